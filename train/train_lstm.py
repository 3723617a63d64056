"""Meta-train chapter 10's two learned optimizers and store them: ``make train``.

Writes ``train/lstm_params.npz`` (the LSTM's and the linear RNN's parameters, the best by
validation) and ``train/lstm_log.json`` (the configuration, the training curves, the
validation checkpoints, the wall-clock time). Everything comes from fixed seeds, in float64;
``tests/test_lstm.py`` re-runs the first epochs and compares them with the log.

    python train/train_lstm.py            # the chapter's run (CONFIG below)
    python train/train_lstm.py --epochs 2 --out /tmp/x   # a quick check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from metaopt import lstm

HERE = Path(__file__).resolve().parent

#: The chapter's run. Seeds: LSTM initialization 0, training batches 0, validation batch 1.
CONFIG = dict(epochs=300, meta_lr=0.003, batch=lstm.BATCH, steps=lstm.STEPS, truncation=lstm.TRUNCATION,
              init_seed=0, train_seed=0, validation_seed=1, validation_n=128, rnn_init=[1.0, 0.5, -0.01])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    config = dict(CONFIG, epochs=args.epochs)
    params, log = train(config)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "lstm_params.npz", **params)
    (args.out / "lstm_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main()
