"""Export for serving: every zoo entry's SavedModel serves what kerasgen computes, loaded where kerasgen is absent.

The zoo entries are exported here; one fresh process that cannot import kerasgen (a server) loads every SavedModel
with ``tf.saved_model.load``, calls its signatures and writes what they return; kerasgen's own outputs for the same
inputs and seeds are compared here: images and token ids exactly, floats within 1e-4.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasgen as kg
from kerasgen import backend, zoo

ROOT = Path(__file__).resolve().parents[1]
SEED = 11
DIFFUSION_STEPS = 4  # the served chain's length, fixed at export (the card's 50 would only take longer here)

SERVER = r"""
import json, sys
import numpy as np
sys.modules["kerasgen"] = None  # a server without kerasgen: importing it fails
import tensorflow as tf

cases = json.load(open(sys.argv[1]))
inputs = np.load(sys.argv[2])
outputs, loaded = {}, {}
for i, case in enumerate(cases):
    if case["path"] not in loaded:
        loaded[case["path"]] = tf.saved_model.load(case["path"])
    signature = loaded[case["path"]].signatures[case["signature"]]
    result = signature(**{name: tf.constant(inputs[key]) for name, key in case["inputs"].items()})
    for name, value in result.items():
        value = value.numpy()
        outputs[f"{i}/{name}"] = value.astype(bytes) if value.dtype == object else value  # strings
np.savez(sys.argv[3], **outputs)
print("served", len(cases))
"""


def uint8(images):
    return np.round(np.asarray(images) * 255).astype(np.uint8)


class Cases:
    """The signatures to call in the server, each with its inputs and what kerasgen says it must return."""

    def __init__(self, directory):
        self.directory, self.cases, self.inputs, self.checks = directory, [], {}, []

    def add(self, path, signature, inputs, check):
        keys = {}
        for name, value in inputs.items():
            keys[name] = f"{len(self.cases)}/{name}"
            self.inputs[keys[name]] = value
        self.cases.append({"path": str(path), "signature": signature, "inputs": keys})
        self.checks.append((f"{path.name} {signature}", check))

    def serve(self):
        index, inputs, outputs = (self.directory / name for name in ("cases.json", "inputs.npz", "outputs.npz"))
        index.write_text(json.dumps(self.cases))
        np.savez(inputs, **self.inputs)
        result = subprocess.run([sys.executable, "-c", SERVER, str(index), str(inputs), str(outputs)],
                                capture_output=True, text=True, timeout=600, cwd=self.directory)
        assert result.returncode == 0, result.stderr[-3000:]
        served = np.load(outputs)
        return [(name, check, {key.split("/", 1)[1]: served[key] for key in served.files
                               if key.split("/", 1)[0] == str(i)}) for i, (name, check) in enumerate(self.checks)]


def equal(expected):
    return lambda served: np.array_equal(served["output_0"], expected)


def close(expected, name="output_0"):
    return lambda served: np.allclose(served[name], expected, rtol=0, atol=1e-4)


def add_entry(cases, name, model, path):
    rng = np.random.default_rng(0)
    seed = np.int32(SEED)
    if isinstance(model, kg.models.TextGenerator):
        prompt = "ROMEO:" if model.tokenizer.level == "char" else "the company"
        ids = model.tokenizer.encode(prompt)[None]
        for temperature, top_k, top_p in [(1.0, None, None), (0.8, 5, 0.9), (0.0, None, None)]:
            expected = model.generate(prompt, 30, temperature=temperature, top_k=top_k, top_p=top_p, seed=SEED)
            inputs = {"prompt_ids": ids.astype(np.int32), "max_new_tokens": np.int32(30),
                      "temperature": np.float32(temperature), "top_k": np.int32(top_k or 0),
                      "top_p": np.float32(top_p or 1.0), "seed": seed}
            cases.add(path, "generate", inputs, lambda served, expected=expected, prompt=prompt:
                      model.tokenizer.continue_text(prompt, served["output_0"][0]) == expected)
        tokens = np.array(model.tokenizer.tokens, dtype=object)
        cases.add(path, "vocabulary", {}, lambda served: [t.decode() for t in served["tokens"]] == list(tokens))
        assert json.loads((path / "assets" / "tokenizer.json").read_text())["tokens"] == model.tokenizer.tokens
        return
    if isinstance(model, kg.models.ImageClassifier):
        images = rng.uniform(size=(3, *model.image_shape)).astype(np.float32)
        cases.add(path, "serve", {"images": images}, close(model.predict(images, verbose=0)))
        return
    options = {"steps": DIFFUSION_STEPS} if isinstance(model, kg.models.DiffusionModel) else {}
    classes = getattr(model, "num_classes", None)
    points = isinstance(model, kg.models.PointGenerator)
    if classes is None:
        expected = model.sample(4, temperature=0.7, seed=SEED, **options)
        cases.add(path, "sample", {"n": np.int32(4), "seed": seed, "temperature": np.float32(0.7)},
                  close(expected) if points else equal(uint8(expected)))
    else:
        labels = np.array([1, 7, 3], np.int32)
        for guidance in (1.0, 2.0) if isinstance(model, kg.models.DiffusionModel) else (None,):
            extra = {} if guidance is None else {"guidance": guidance}
            expected = uint8(model.sample(3, temperature=0.8, seed=SEED, labels=labels, **extra, **options))
            inputs = {"labels": labels, "seed": seed, "temperature": np.float32(0.8),
                      **{key: np.float32(value) for key, value in extra.items()}}
            cases.add(path, "sample", inputs, equal(expected))
    if isinstance(model, kg.models.VAE):
        images = (rng.uniform(size=(3, *model.image_shape)) > 0.5).astype(np.float32)
        z = rng.standard_normal((3, model.latent_dim)).astype(np.float32)
        mean, log_var = model.encode(images)
        cases.add(path, "encode", {"images": images}, lambda served: close(np.asarray(mean), "mean")(served)
                  and close(np.asarray(log_var), "log_var")(served))
        cases.add(path, "decode", {"z": z}, close(model.decode(z)))
    if isinstance(model, kg.models.RealNVP):
        low, high = (0.05, 0.95) if model.is_image else (-1.0, 1.0)
        x = rng.uniform(low, high, size=(3, *model.data_shape)).astype(np.float32)
        cases.add(path, "log_prob", {"x": x}, close(np.asarray(model.log_prob(x))))


@pytest.fixture(autouse=True)
def checkout_zoo(monkeypatch):
    monkeypatch.setenv(zoo.ZOO_DIR_ENV, str(ROOT / "zoo"))


def test_every_zoo_entry_serves_what_kerasgen_computes_without_kerasgen(tmp_path):
    cases = Cases(tmp_path)
    names = zoo.names()
    for name in names:
        model = zoo.load_model(name)
        path = tmp_path / name
        model.export(path, **({"steps": DIFFUSION_STEPS} if isinstance(model, kg.models.DiffusionModel) else {}))
        add_entry(cases, name, model, path)

    results = cases.serve()

    assert {Path(case["path"]).name for case in cases.cases} == set(names)
    failed = [name for name, check, served in results if not check(served)]
    assert not failed, failed


def test_a_conditional_vae_serves_encode_and_decode_with_labels(tmp_path):
    import tensorflow as tf

    model = kg.models.VAE(image_shape=(8, 8, 1), latent_dim=3, filters=(4, 4), hidden_dim=8, num_classes=4)
    model.build()
    model.export(tmp_path / "vae")
    served = tf.saved_model.load(str(tmp_path / "vae"))
    images = (np.random.default_rng(0).uniform(size=(2, 8, 8, 1)) > 0.5).astype(np.float32)
    labels = np.array([0, 3], np.int32)

    encoded = served.encode(images=images, labels=labels)
    mean, log_var = model.encode(images, labels)

    np.testing.assert_allclose(encoded["mean"].numpy(), mean, atol=1e-5)
    np.testing.assert_allclose(encoded["log_var"].numpy(), log_var, atol=1e-5)
    z = np.asarray(mean)
    np.testing.assert_allclose(served.decode(z=z, labels=labels).numpy(), model.decode(z, labels), atol=1e-5)
    drawn = served.sample(labels=labels, seed=np.int32(5), temperature=np.float32(1.0)).numpy()
    np.testing.assert_array_equal(drawn, uint8(model.sample(2, seed=5, labels=labels)))


def test_the_served_seed_is_kerasgens_for_any_int32_seed():
    for seed in (0, 5, 2**31 - 2, 2**31 - 1, -1, -(2**31)):
        assert np.array_equal(np.asarray(backend.seed_from_tensor(np.int32(seed))), np.asarray(backend.seed_pair(seed)))


def test_export_with_an_input_signature_is_keras_export_of_call(tmp_path):
    import keras
    import tensorflow as tf

    model = kg.models.ImageClassifier(image_shape=(8, 8, 1), num_classes=3, feature_dim=4)
    model.build()
    model.export(tmp_path / "call", input_signature=[keras.InputSpec(shape=(None, 8, 8, 1), dtype="float32")])
    images = np.random.default_rng(1).uniform(size=(2, 8, 8, 1)).astype(np.float32)

    loaded = tf.saved_model.load(str(tmp_path / "call"))

    np.testing.assert_allclose(loaded.serve(images).numpy(), model.predict(images, verbose=0), atol=1e-5)


def test_cli_export_writes_the_cards_sampling_settings(tmp_path, capsys):
    import tensorflow as tf

    from kerasgen import cli

    out = tmp_path / "served"
    assert cli.main(["export", "dcgan-mnist-cond", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (saved_model): sample"
    served = tf.saved_model.load(str(out))
    drawn = served.sample(labels=np.array([4, 4], np.int32), seed=np.int32(2), temperature=np.float32(1.0)).numpy()
    np.testing.assert_array_equal(drawn, uint8(zoo.load_model("dcgan-mnist-cond").sample(2, seed=2, labels=4)))


def test_cli_export_refuses_a_plain_keras_model(tmp_path, capsys):
    import keras

    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "plain.keras")

    assert cli_status(["export", str(tmp_path / "plain.keras"), "--out", str(tmp_path / "x")]) == 2
    assert "is not a kerasgen model" in capsys.readouterr().err


def cli_status(argv):
    from kerasgen import cli

    return cli.main(argv)


# --- ONNX and LiteRT: each family's network alone ------------------------------------------------------------------


def tiny_models():
    """One small model of each family and form, built (random weights: the export must carry them exactly)."""
    from conftest import TEXT

    tokenizer = kg.text.CharTokenizer.from_text(TEXT)
    models = {
        "lstm": kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=2),
        "gru": kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=2, cell="gru"),
        "gpt": kg.models.DecoderTransformer(tokenizer, max_length=16, num_layers=2, num_heads=2, embedding_dim=16),
        "vae": kg.models.VAE(image_shape=(8, 8, 1), latent_dim=4, filters=(4, 8), hidden_dim=16),
        "vae-classes": kg.models.VAE(image_shape=(8, 8, 1), latent_dim=4, filters=(4, 8), hidden_dim=16, num_classes=3),
        "dcgan": kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4),
        "dcgan-classes": kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, num_classes=3),
        "diffusion": kg.models.DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1),
        "diffusion-classes": kg.models.DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1,
                                                      num_classes=3),
        "realnvp-images": kg.models.RealNVP(input_shape=(4, 4, 1), num_scales=1, hidden_units=8, num_blocks=1),
        "realnvp-points": kg.models.RealNVP(input_shape=(2,), num_couplings=2, hidden_units=16, num_blocks=2),
        "classifier": kg.models.ImageClassifier(image_shape=(8, 8, 1), num_classes=3, feature_dim=8),
    }
    for model in models.values():
        if not model.built:
            text = isinstance(model, kg.models.TextGenerator)
            model.build((None, None) if text else (None, *getattr(model, "data_shape", (8, 8, 1))))
    return models


def network_inputs(model, signature, rng):
    """Inputs for the network's signature: token ids, labels and timesteps in range, images in [0, 1], else normal
    noise (a diffusion model's x in [-1, 1])."""
    values = {}
    for spec in signature:
        shape = [3 if size is None else size for size in spec.shape]
        if spec.name == "token_ids":
            values[spec.name] = model.tokenizer.encode("First Citizen:")[None].astype(np.int32)
        elif spec.name == "labels":
            values[spec.name] = np.array([0, 2, model.num_classes if isinstance(model, kg.models.DiffusionModel)
                                          else 1], np.int32)  # diffusion: "no class" too
        elif spec.name == "timesteps":
            values[spec.name] = np.array([0, 500, model.timesteps - 1], np.int32)
        elif spec.name == "images":
            values[spec.name] = rng.uniform(size=shape).astype(np.float32)
        else:
            values[spec.name] = rng.standard_normal(shape).astype(np.float32)
    return values


@pytest.fixture(scope="module")
def networks():
    return tiny_models()


@pytest.mark.parametrize("name", ["lstm", "gru", "gpt", "vae", "vae-classes", "dcgan", "dcgan-classes", "diffusion",
                                  "diffusion-classes", "realnvp-images", "realnvp-points", "classifier"])
def test_onnx_runtime_runs_each_network_as_keras_does(networks, name, tmp_path):
    import onnxruntime

    model = networks[name]
    endpoint, function, signature = model.network_endpoint()
    model.export(tmp_path / "model.onnx", format="onnx")
    inputs = network_inputs(model, signature, np.random.default_rng(0))

    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    served = session.run(None, inputs)[0]

    assert sorted(item.name for item in session.get_inputs()) == sorted(inputs)
    expected = np.asarray(function(**inputs))
    assert served.shape == expected.shape
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["vae", "vae-classes", "dcgan", "dcgan-classes", "realnvp-images", "realnvp-points",
                                  "classifier"])
def test_the_litert_interpreter_runs_each_image_network_as_keras_does(networks, name, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model = networks[name]
    endpoint, function, signature = model.network_endpoint()
    model.export(tmp_path / "model.tflite", format="litert")
    inputs = network_inputs(model, signature, np.random.default_rng(0))

    runner = Interpreter(model_path=str(tmp_path / "model.tflite")).get_signature_runner(endpoint)
    (served,) = runner(**inputs).values()

    np.testing.assert_allclose(served, np.asarray(function(**inputs)), rtol=0, atol=1e-4)


def test_formats_a_model_cannot_go_to_are_refused_naming_those_it_can(networks, tmp_path):
    with pytest.raises(kg.checks.InvalidArgument, match="exports to tf_saved_model, onnx, not 'litert'"):
        networks["lstm"].export(tmp_path / "x.tflite", format="litert")
    with pytest.raises(kg.checks.InvalidArgument, match="exports to tf_saved_model, onnx, litert, not 'pb'"):
        networks["vae"].export(tmp_path / "x.pb", format="pb")
    with pytest.raises(kg.checks.InvalidArgument, match="steps: options of the SavedModel's sample, not of onnx"):
        networks["diffusion"].export(tmp_path / "x.onnx", format="onnx", steps=3)


@pytest.mark.parametrize("name", ["diffusion", "diffusion-classes"])
def test_the_numpy_ddim_loop_over_the_onnx_network_draws_kerasgens_images(networks, name, tmp_path):
    import onnxruntime

    sys.path.insert(0, str(ROOT / "examples"))
    from onnx_ddim import ddim_sample

    model = networks[name]
    model.export(tmp_path / "unet.onnx", format="onnx")
    labels = None if model.num_classes is None else np.array([0, 2, 1], np.int32)
    start, _ = backend.split_seed(backend.seed_pair(SEED), 2)  # the starting noise model.sample draws
    noise = np.asarray(backend.normal((3, *model.image_shape), start))

    images = ddim_sample(onnxruntime.InferenceSession(str(tmp_path / "unet.onnx")), noise, steps=5, labels=labels)

    expected = model.sample(3, seed=SEED, steps=5, sampler="ddim", eta=0, labels=labels)
    np.testing.assert_allclose(images, expected, rtol=0, atol=1e-4)
