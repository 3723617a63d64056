"""Meta-train Part III's learned optimizers and store them: ``make train``.

Chapter 10 (``--problem quadratics``): writes ``train/lstm_params.npz`` (the LSTM's and the
linear RNN's parameters, the best by validation) and ``train/lstm_log.json`` (the configuration,
the training curves, the validation checkpoints, the wall-clock time). Chapter 11
(``--problem digits``): ``train/digits_params.npz`` and ``train/digits_log.json``, the same for
the LSTM meta-trained on the digits network. Everything comes from fixed seeds, in float64;
``tests/test_lstm.py`` and ``tests/test_digits.py`` re-run the first epochs and compare them
with the logs.

    python train/train_lstm.py                 # both chapters' runs (CONFIG and DIGITS_CONFIG below)
    python train/train_lstm.py --problem digits --epochs 2 --out /tmp/x   # a quick check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from metaopt import digits, lstm

HERE = Path(__file__).resolve().parent

#: The chapter's run. Seeds: LSTM initialization 0, training batches 0, validation batch 1.
CONFIG = dict(epochs=300, meta_lr=0.003, batch=lstm.BATCH, steps=lstm.STEPS, truncation=lstm.TRUNCATION,
              init_seed=0, train_seed=0, validation_seed=1, validation_n=128, rnn_init=[1.0, 0.5, -0.01])
#: Chapter 11's run: one network per epoch (the reference code's), validation on 8 networks of the training split.
DIGITS_CONFIG = dict(epochs=200, meta_lr=digits.META_LR, batch=1, steps=digits.STEPS, truncation=digits.TRUNCATION,
                     scale=digits.SCALE, init_seed=0, train_seed=0, validation_seed=1, validation_n=8)


def train(config: dict) -> tuple[dict, dict]:
    validation = lstm.sample_quadratics(config["validation_n"], seed=config["validation_seed"])
    common = dict(tasks=validation, iterations=config["epochs"], steps=config["steps"],
                  truncation=config["truncation"], lr=config["meta_lr"], seed=config["train_seed"], n=config["batch"])
    log, params = {"config": config}, {}
    for name, start, fn in [("rnn", np.array(config["rnn_init"]), lstm.meta_train_rnn),
                            ("lstm", lstm.lstm_init(config["init_seed"]), lstm.meta_train_lstm)]:
        began = time.perf_counter()
        run = fn(start, **common)
        seconds = time.perf_counter() - began
        params[name], params[name + "_final"] = run.params, run.final
        log[name] = dict(train_loss=run.train_loss.tolist(), first_losses=run.first_losses.tolist(),
                         validation_epochs=run.validation_epochs.tolist(),
                         validation_loss=run.validation_loss.tolist(), best_epoch=int(run.best_epoch),
                         seconds=round(seconds, 1))
        print(f"{name}: {seconds:.0f} s, best validation {min(run.validation_loss):.3f} at epoch {run.best_epoch}",
              flush=True)
    return params, log


def train_digits(config: dict) -> tuple[dict, dict]:
    validation = digits.sample_tasks(config["validation_n"], seed=config["validation_seed"], steps=config["steps"])
    began = time.perf_counter()
    run = digits.meta_train(digits.lstm_init(config["init_seed"]), tasks=validation, iterations=config["epochs"],
                            steps=config["steps"], truncation=config["truncation"], lr=config["meta_lr"],
                            seed=config["train_seed"], n=config["batch"])
    seconds = time.perf_counter() - began
    log = {"config": config, "lstm": dict(
        train_loss=run.train_loss.tolist(), first_losses=run.first_losses.tolist(),
        validation_epochs=run.validation_epochs.tolist(), validation_loss=run.validation_loss.tolist(),
        best_epoch=int(run.best_epoch), seconds=round(seconds, 1))}
    print(f"digits lstm: {seconds:.0f} s, best validation {min(run.validation_loss):.3f} at epoch {run.best_epoch}",
          flush=True)
    return {"lstm": run.params, "lstm_final": run.final}, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=("quadratics", "digits", "all"), default="all")
    parser.add_argument("--epochs", type=int, help="override the configured number of epochs (a quick check)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for problem, base, fn, stem in (("quadratics", CONFIG, train, "lstm"), ("digits", DIGITS_CONFIG, train_digits, "digits")):
        if args.problem not in (problem, "all"):
            continue
        config = dict(base, epochs=args.epochs or base["epochs"])
        params, log = fn(config)
        np.savez(args.out / f"{stem}_params.npz", **params)
        (args.out / f"{stem}_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main()
