"""LoRA fine-tuning of a keras-hub causal language model (Gemma), with the LoRA rank and
the learning rate as hyperparameters.

The model is a user's preset loaded from a local directory (``preset_path``; nothing is
downloaded), or, by default, a tiny ``GemmaBackbone`` built from a config (vocabulary 256,
2 layers, hidden size 32) with a SentencePiece vocabulary trained on the corpus in the
worker: it runs offline in seconds, which is what tests and the demo use. Each trial
copies the base weights, calls ``backbone.enable_lora(rank)`` (which freezes the backbone
and adds low-rank adapters to the attention's query and value projections) and trains
on windows of the corpus; a tenth of the corpus, at its end, is held out for validation.

Strategy fields: ``ranks`` (default [2, 4]), ``corpus`` (a UTF-8 text file; default the
shipped ``examples/data/corpus.txt``), ``preset_path``, ``sequence_length`` (64),
``prompt`` ("The") and ``sample_length`` (40 tokens, prompt included) for the sample each
trial generates, and ``base_epochs`` (0: full training of the tiny backbone on the corpus
before the LoRA trials, so its samples are more than noise). The rates tried are the
candidates of ``search_space.learning_rate``; the run's ``data`` section is not used.

Each trial records ``trainable_params`` / ``non_trainable_params`` and its generated
``sample``. The best trial's adapters are kept in the run folder as ``best.lora.h5``
(``backbone.load_lora_weights`` reads them), described by ``best_lora.json``; for the
tiny backbone the base weights and the vocabulary are saved beside them.

Trials fit with the spec's ``training`` callbacks (early stopping, learning-rate schedule);
the base pretraining does not. ``strategy.executions_per_trial`` must be 1: each trial
trains once, and its adapters are what ``best.lora.h5`` keeps.
"""
from __future__ import annotations

import importlib.util
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning.paths import PROJECT_ROOT, resolve_spec_path, spec_path_problem

from ._tools import (
    clean,
    fit_recorded,
    int_list,
    learning_rates,
    parameter_counts,
    run_trials,
    single_execution,
    summarise_fit,
)
from .registry import Strategy, register

if TYPE_CHECKING:
    from tuning.runner.tool_context import ToolContext

PROJECT = PROJECT_ROOT  # a checkout's top level, or an installed copy's bundle
# The optional ``lora`` extra of the install (pyproject.toml): import name -> distribution.
EXTRA_PACKAGES = {"keras_hub": "keras-hub", "tensorflow_text": "tensorflow-text",
                  "sentencepiece": "sentencepiece"}
INSTALL_HINT = "pip install 'tuning-dashboard[lora]'"
DEFAULT_CORPUS = "examples/data/corpus.txt"
DEFAULT_RANKS = [2, 4]
TINY_BACKBONE = {"vocabulary_size": 256, "num_layers": 2, "num_query_heads": 2,
                 "num_key_value_heads": 1, "hidden_dim": 32, "intermediate_dim": 64,
                 "head_dim": 16}
MAX_CORPUS_BYTES = 50 * 1024 * 1024
MIN_CORPUS_CHARS = 200
BEST_WEIGHTS = "best.lora.h5"


def _readable(path: str, field: str) -> Path:
    """``paths.checked_spec_path``: the data-folder rule every file a spec names follows (a
    relative path is taken from the project folder); a refusal is a ``ValueError`` naming
    the field, which the trial loop reports as the run's error."""
    from tuning.paths import checked_spec_path

    return checked_spec_path(path, field)


def missing_packages() -> list[str]:
    """The ``lora`` extra's distributions this environment lacks (found without importing)."""
    return [dist for name, dist in EXTRA_PACKAGES.items() if importlib.util.find_spec(name) is None]


def check(c: Any, strategy: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None = None) -> dict[str, Any]:
    get = strategy.get
    missing = missing_packages()
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        c.fail("strategy.name", f"lora needs the optional lora extra, and {', '.join(missing)} "
               f"{verb} not installed; install it with {INSTALL_HINT} (or pip install -r "
               "requirements.txt in a checkout)", "lora")
    ranks = int_list(c, "strategy.ranks", get("ranks"), 1, 1024, DEFAULT_RANKS)
    for name in space:
        if name != "learning_rate":
            c.fail(f"search_space.{name}", "is not used by lora, which tunes the LoRA rank "
                   "(strategy.ranks) and learning_rate only; remove it")
    rates = learning_rates(c, space, "lora")
    single_execution(c, out, "lora trains each adapter once and keeps the best one's "
                     "weights; remove strategy.executions_per_trial or set it to 1")
    corpus = get("corpus", DEFAULT_CORPUS)
    if not isinstance(corpus, str) or not corpus:
        c.fail("strategy.corpus", "must be the path of a UTF-8 text file", corpus)
    elif spec_path_problem(corpus):
        c.fail("strategy.corpus", spec_path_problem(corpus), corpus)
    elif not resolve_spec_path(corpus).is_file():
        c.fail("strategy.corpus", "must be an existing text file", corpus)
    elif resolve_spec_path(corpus).stat().st_size > MAX_CORPUS_BYTES:
        c.fail("strategy.corpus", f"must be at most {MAX_CORPUS_BYTES // 2**20} MB", corpus)
    preset = get("preset_path")
    if preset is not None and isinstance(preset, str) and spec_path_problem(preset):
        c.fail("strategy.preset_path", spec_path_problem(preset), preset)
    elif preset is not None and (not isinstance(preset, str)
                                 or not resolve_spec_path(preset).is_dir()):
        c.fail("strategy.preset_path", "must be a local keras-hub preset directory (presets "
               "cannot be downloaded here)", preset)
    prompt = get("prompt", "The")
    if not isinstance(prompt, str) or not prompt.strip():
        c.fail("strategy.prompt", "must be a non-empty string", prompt)
    return {
        "ranks": ranks, "corpus": corpus, "preset_path": preset, "prompt": prompt,
        "sequence_length": c.integer("strategy.sequence_length", get("sequence_length", 64),
                                     8, 8192),
        "sample_length": c.integer("strategy.sample_length", get("sample_length", 40), 2,
                                   8192),
        "base_epochs": c.integer("strategy.base_epochs", get("base_epochs", 0), 0, 1000),
        "max_trials": len(ranks) * len(rates),
    }


def run(ctx: ToolContext) -> None:
    missing = missing_packages()
    if missing:
        raise RuntimeError(f"lora needs the optional lora extra ({', '.join(missing)} missing): "
                           f"{INSTALL_HINT}")
    from tuning.strategies.manual import candidate_values

    spec, strategy = ctx.spec, ctx.spec["strategy"]
    text = _read_corpus(strategy["corpus"])
    base = _Base.load(ctx, text)
    windows = base.windows(text, strategy["sequence_length"])
    hp = spec["search_space"].get("learning_rate")
    rates = [float(v) for v in (candidate_values(hp) if hp else [1e-3])]
    plan = [(f"rank-{r}-lr-{lr:g}", {"rank": r, "learning_rate": lr})
            for r in strategy["ranks"] for lr in rates]
    run_trials(ctx, plan, lambda trial_id, values: _train(ctx, base, windows, trial_id, values))


def _read_corpus(path: str) -> str:
    try:
        text = _readable(path, "strategy.corpus").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"strategy.corpus {path!r} cannot be read as UTF-8 text: {exc}") \
            from exc
    if len(text.strip()) < MIN_CORPUS_CHARS:
        raise ValueError(f"strategy.corpus {path!r} holds {len(text.strip())} characters; "
                         f"at least {MIN_CORPUS_CHARS} are needed")
    return text


def train_vocabulary(text: str, size: int) -> bytes:
    """A SentencePiece model of at most ``size`` pieces with Gemma's special tokens."""
    import sentencepiece

    lines = [line for line in text.splitlines() if line.strip()]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=size,
        hard_vocab_limit=False, model_type="bpe", character_coverage=1.0,
        max_sentence_length=1 << 20, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        pad_piece="<pad>", bos_piece="<bos>", eos_piece="<eos>", unk_piece="<unk>",
        minloglevel=2)
    return model.getvalue()


class _Base:
    """The base model every trial starts from: its config, weights and tokenizer."""

    def __init__(self, backbone: Any, preprocessor: Any, task_cls: type, tiny: bool):
        self.backbone_cls = type(backbone)
        self.config = backbone.get_config()
        self.weights = backbone.get_weights()
        self.preprocessor = preprocessor
        self.task_cls = task_cls
        self.tiny = tiny

    @classmethod
    def load(cls, ctx: ToolContext, text: str) -> _Base:
        import keras
        import keras_hub

        strategy = ctx.spec["strategy"]
        if strategy["preset_path"]:
            lm = keras_hub.models.CausalLM.from_preset(
                str(_readable(strategy["preset_path"], "strategy.preset_path")))
            lm.preprocessor.sequence_length = strategy["sequence_length"]
            return cls(lm.backbone, lm.preprocessor, type(lm), tiny=False)
        proto = train_vocabulary(text, TINY_BACKBONE["vocabulary_size"])
        tokenizer = keras_hub.models.GemmaTokenizer(proto=proto)
        preprocessor = keras_hub.models.GemmaCausalLMPreprocessor(
            tokenizer, sequence_length=strategy["sequence_length"])
        keras.utils.set_random_seed(int(ctx.spec["seed"]))
        backbone = keras_hub.models.GemmaBackbone(**TINY_BACKBONE)
        base = cls(backbone, preprocessor, keras_hub.models.GemmaCausalLM, tiny=True)
        if strategy["base_epochs"]:
            base.pretrain(ctx, text, backbone)
        Path(ctx.folder, "tokenizer.model").write_bytes(proto)
        backbone.save_weights(os.path.join(ctx.folder, "tiny_base.weights.h5"))
        return base

    def pretrain(self, ctx: ToolContext, text: str, backbone: Any) -> None:
        """Full training of the tiny backbone, so LoRA adapts a model that knows something."""
        import keras

        x, y, w = self.windows(text, ctx.spec["strategy"]["sequence_length"])[0]
        lm = self.task_cls(backbone=backbone, preprocessor=None)
        lm.compile(optimizer=keras.optimizers.Adam(3e-3), weighted_metrics=["accuracy"])
        lm.fit(x, y, sample_weight=w, epochs=ctx.spec["strategy"]["base_epochs"],
               batch_size=ctx.spec["training"]["batch_size"], verbose=0)
        self.weights = backbone.get_weights()

    def windows(self, text: str, length: int) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]]:
        """Training and validation windows of ``length`` tokens (the last tenth of the
        corpus is validation): ``(x, y, sample_weight)`` each, ``y`` shifted by one."""
        import numpy as np

        ids = np.asarray(self.preprocessor.tokenizer(text)).astype("int32").ravel()
        cut = max(int(len(ids) * 0.9), len(ids) - 4 * length)
        return _windowed(ids[:cut], length, length // 2), _windowed(ids[cut:], length, length)

    def fresh_backbone(self) -> Any:
        backbone = self.backbone_cls.from_config(self.config)
        backbone.set_weights(self.weights)
        return backbone


def _windowed(ids: Any, length: int, stride: int) -> tuple[Any, Any, Any]:
    """Windows of ``length + 1`` tokens (inputs and next-token targets), zero-padded."""
    import numpy as np

    starts = list(range(0, max(len(ids) - length, 1), stride))
    block = np.zeros((len(starts), length + 1), dtype="int32")
    mask = np.zeros((len(starts), length + 1), dtype=bool)
    for row, start in enumerate(starts):
        piece = ids[start:start + length + 1]
        block[row, :len(piece)] = piece
        mask[row, :len(piece)] = True
    x = {"token_ids": block[:, :-1], "padding_mask": mask[:, :-1]}
    return x, block[:, 1:], (mask[:, 1:] & mask[:, :-1]).astype("float32")


def _train(ctx: ToolContext, base: _Base, windows: Any, trial_id: int,
           values: Mapping[str, Any]):
    import keras

    spec, strategy = ctx.spec, ctx.spec["strategy"]
    (x, y, w), (xv, yv, wv) = windows
    keras.utils.set_random_seed(int(spec["seed"]))
    backbone = base.fresh_backbone()
    backbone.enable_lora(int(values["rank"]))
    lm = base.task_cls(backbone=backbone, preprocessor=base.preprocessor)
    lm.compile(optimizer=keras.optimizers.Adam(float(values["learning_rate"])),
               weighted_metrics=["accuracy"], sampler="greedy")
    counts = parameter_counts(lm)
    lm.preprocessor = None  # the windows are token ids already
    curve = fit_recorded(ctx, trial_id, lm, x, y, sample_weight=w,
                         validation_data=(xv, yv, wv), epochs=spec["training"]["epochs"],
                         batch_size=spec["training"]["batch_size"])
    lm.preprocessor = base.preprocessor
    sample = str(lm.generate(strategy["prompt"], max_length=strategy["sample_length"]))
    score, metrics, flags = summarise_fit(ctx, curve)
    metrics.update(counts)
    metrics["rank"] = int(values["rank"])
    metrics["sample"] = sample
    if _is_best(ctx, score):
        _save_best(ctx, base, backbone, values, score)
    return score, metrics, f"sample: {sample}", flags


def _is_best(ctx: ToolContext, score: float | None) -> bool:
    from storage import TrialStatus

    if score is None or not math.isfinite(score):
        return False
    sign = -1.0 if ctx.spec["objective"]["direction"] == "min" else 1.0
    earlier = [t.score for t in ctx.storage.list_trials(ctx.run_id)
               if t.status is TrialStatus.COMPLETED and t.score is not None]
    return all(sign * score > sign * s for s in earlier)


def _save_best(ctx: ToolContext, base: _Base, backbone: Any, values: Mapping[str, Any],
               score: float) -> None:
    """Write the adapters under a temporary name first: a reader never sees half a file."""
    partial = os.path.join(ctx.folder, "partial.lora.h5")
    backbone.save_lora_weights(partial)
    os.replace(partial, os.path.join(ctx.folder, BEST_WEIGHTS))
    strategy = ctx.spec["strategy"]
    about = clean({"weights": BEST_WEIGHTS, "rank": int(values["rank"]),
                   "learning_rate": float(values["learning_rate"]), "score": score,
                   "objective": ctx.spec["objective"]["metric"],
                   "base": strategy["preset_path"] or {"tiny_backbone": TINY_BACKBONE,
                                                       "weights": "tiny_base.weights.h5",
                                                       "tokenizer": "tokenizer.model"}})
    Path(ctx.folder, "best_lora.json").write_text(json.dumps(about, indent=2))


STRATEGY = register(Strategy(
    "lora", "LoRA fine-tuning of a Gemma language model (keras-hub)",
    "To adapt a language model to your text cheaply: tune the LoRA rank and learning "
    "rate while the base model stays frozen.",
    ("keras",), check, options=(),
    fields=("ranks", "corpus", "preset_path", "sequence_length", "prompt", "sample_length",
            "base_epochs"),
    run=run, distributable=False, panel="lora_ranks", early_stopping=False))
