"""Multi-worker training: two worker processes on 127.0.0.1 end where one process ends on the same global batches.

The workers run this file as a script (``python test_multiworker.py RUN_DIR``
with ``TF_CONFIG`` set): each trains every model in ``families()`` with
``model.fit`` under ``kerasgen.distribute.get_strategy("multiworker")`` and
saves the start and end weights; the test trains the same models from the same
start on one device and compares. Then each worker runs ``train_text`` twice
(as ``kerasgen train --strategy multiworker`` does) with its own log dir, as
hosts without shared storage would: only the chief may write, and the second
run must resume every worker from the chief's checkpoint.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n" * 4
GLOBAL_BATCH, STEPS, LEARNING_RATE = 4, 3, 1e-2
TIMEOUT = 100  # seconds for the two workers together; they take about 50 s on two busy cores
REPO = Path(__file__).resolve().parents[1]
PORT_TAKEN = ("address already in use", "failed to bind", "could not start grpc server")  # another process won the port


def families():
    """name -> (build a built model, compile it, a tf.data of STEPS global batches).

    A compile-default loss (LSTM), a ``compute_loss`` override with per-step
    noise (VAE) and a ``train_step`` with two optimizers and synchronized batch
    norm (DCGAN).
    """
    import keras
    import tensorflow as tf

    import kerasgen as kg

    tokenizer = kg.text.CharTokenizer.from_text(TEXT)
    ids = tokenizer.encode(TEXT)
    count, seq_len = GLOBAL_BATCH * STEPS, 16
    x = np.stack([ids[i * seq_len : (i + 1) * seq_len] for i in range(count)])
    y = np.stack([ids[i * seq_len + 1 : (i + 1) * seq_len + 1] for i in range(count)])
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(count, 8, 8, 1)).astype(np.float32)

    def lstm():
        model = kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=1)
        model(x[:1])
        return model

    def vae():
        model = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=4, filters=(4, 8), hidden_dim=16)
        model.build((None, 8, 8, 1))
        return model

    def dcgan():
        model = kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4)
        model.build()
        return model

    def sgd():
        return keras.optimizers.SGD(LEARNING_RATE)

    def batches(*arrays):
        return lambda: tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0]).batch(GLOBAL_BATCH)

    return {
        "lstm": (lstm, lambda model: model.compile(optimizer=sgd()), batches(x, y)),
        "vae": (vae, lambda model: model.compile(optimizer=sgd()), batches((images > 0.5).astype(np.float32))),
        "dcgan": (dcgan, lambda model: model.compile(d_optimizer=sgd(), g_optimizer=sgd()), batches(images)),
    }


def _worker(run_dir):
    """Train every family, then resume a ``train_text`` run, under the multi-worker strategy from TF_CONFIG.

    Saves start and end weights, and what the ``train_text`` runs did, to ``run_dir/worker<index>.npz``.
    """
    import keras

    from kerasgen import distribute, training

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = distribute.get_strategy("multiworker")
    saved = {"replicas": strategy.num_replicas_in_sync, "chief": distribute.is_chief(strategy)}
    for name, (build, compile_model, batches) in families().items():
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = build()
            compile_model(model)
        saved.update({f"{name}/start/{i}": w for i, w in enumerate(model.get_weights())})
        model.fit(batches(), epochs=1, verbose=0)
        saved.update({f"{name}/end/{i}": w for i, w in enumerate(model.get_weights())})

    host_dir = Path(run_dir) / f"host{index}"
    for epochs in (1, 2):  # the second run resumes from the chief's checkpoint of the first
        model, history = training.train_text(
            "lstm", text=str(Path(run_dir) / "text.txt"), epochs=epochs, steps_per_epoch=2, batch_size=8, seq_len=16,
            logdir=str(host_dir / "log"), out=str(host_dir / "model.keras"), strategy="multiworker", policy="float32",
            model_kwargs=dict(embedding_dim=8, units=16, num_layers=1), temperatures=(1.0,), verbose=0,
        )
        saved[f"train_text/epochs_run/{epochs}"] = len(history.epoch)
    saved.update({f"train_text/end/{i}": w for i, w in enumerate(model.get_weights())})
    saved["train_text/steps"] = int(model.optimizer.iterations.numpy())
    np.savez(Path(run_dir) / f"worker{index}.npz", **saved)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_workers(run_dir):
    """Start two workers on free local ports; return (their outputs, None) or (None, the failure's text)."""
    run_dir.mkdir()
    (run_dir / "text.txt").write_text(TEXT * 4)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes, logs = [], []
    try:
        for index in range(2):
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                "CUDA_VISIBLE_DEVICES": "-1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            logs.append(open(run_dir / f"worker{index}.log", "w+"))
            command = [sys.executable, __file__, str(run_dir)]
            processes.append(subprocess.Popen(command, env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + TIMEOUT
        for process in processes:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
        failures = [(i, p.returncode) for i, p in enumerate(processes) if p.returncode != 0]
        if not failures:
            return [dict(np.load(run_dir / f"worker{index}.npz")) for index in range(2)], None
        text = "\n".join(f"worker {i} exited with {code}:\n{_tail(logs[i])}" for i, code in failures)
    except subprocess.TimeoutExpired:
        text = f"workers did not finish within {TIMEOUT} s:\n" + "\n".join(_tail(log) for log in logs)
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, 9)
                process.wait()
        for log in logs:
            log.close()
    return None, text


def _tail(log):
    log.flush()
    log.seek(0)
    return log.read()[-3000:]


def test_two_workers_match_one_process(tmp_path):
    import keras

    for attempt in range(3):
        run_dir = tmp_path / f"attempt{attempt}"
        results, failure = _run_workers(run_dir)
        port_taken = failure and any(sign in failure.lower() for sign in PORT_TAKEN)
        if not port_taken:
            break
    assert results is not None, failure
    chief, other = results
    assert (chief.pop("replicas"), other.pop("replicas")) == (2, 2), "the workers did not form one cluster"
    assert (chief.pop("chief"), other.pop("chief")) == (True, False)
    assert chief.keys() == other.keys()
    for key in chief:
        np.testing.assert_array_equal(other[key], chief[key], err_msg=f"workers disagree on {key}")

    # train_text: the chief alone wrote checkpoints, logs and the model; the second run resumed after epoch 1.
    assert (run_dir / "host0" / "model.keras").is_file() and (run_dir / "host0" / "log" / "backup").is_dir()
    assert not [p for p in (run_dir / "host1").rglob("*") if p.is_file()], "a worker other than the chief wrote files"
    assert [int(chief[f"train_text/epochs_run/{e}"]) for e in (1, 2)] == [1, 1]
    assert int(chief["train_text/steps"]) == 4

    for name, (build, compile_model, batches) in families().items():
        keras.utils.set_random_seed(0)
        model = build()
        compile_model(model)
        start = [chief[f"{name}/start/{i}"] for i in range(len(model.get_weights()))]
        model.set_weights(start)
        model.fit(batches(), epochs=1, shuffle=False, verbose=0)
        changed = max(np.max(np.abs(w - s)) for w, s in zip(model.get_weights(), start))
        assert changed > 1e-4, f"{name}: training did not move the weights; the comparison would prove nothing"
        for i, weight in enumerate(model.get_weights()):
            np.testing.assert_allclose(chief[f"{name}/end/{i}"], weight, atol=1e-5, rtol=0, err_msg=f"{name} {i}")


if __name__ == "__main__":
    _worker(sys.argv[1])
