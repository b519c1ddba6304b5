"""Bringing existing KerasTuner work in: ``watch`` records a user's own ``tuner.search``
live, ``importer`` reads a finished KerasTuner project folder into storage, and
``kt_project`` reads KerasTuner's project files (``oracle.json``, ``trial.json``);
``project_files`` reads them within fixed limits and ``project_checks`` checks every
field the importer uses before it is used.
"""
