"""How trials are chosen: the manual strategies' value arithmetic (``manual``), the custom
KerasTuner oracles (``oracles``), the learning-rate finder's arithmetic (``lr_finder``) and
the deep-learning tools (``tools``).
"""
