"""Every model family passes the one contract in tests/contract.py."""

import numpy as np
import pytest
from contract import ContractSpec, run_model_contract

import kerasgen as kg
from kerasgen.toy_data import make_moons


def _text_spec(tokenizer, text, seq_len=16):
    ids = tokenizer.encode(text)
    count = 4
    x = np.stack([ids[i * seq_len : (i + 1) * seq_len] for i in range(count)])
    y = np.stack([ids[i * seq_len + 1 : (i + 1) * seq_len + 1] for i in range(count)])
    return x, y


def lstm_spec(level, text, cell="lstm"):
    tokenizer = (
        kg.text.CharTokenizer.from_text(text) if level == "char" else kg.text.WordTokenizer.from_text(text, max_vocab=30)
    )
    x, y = _text_spec(tokenizer, text)
    return ContractSpec(
        build=lambda: kg.models.LSTMGenerator(tokenizer, embedding_dim=8, units=16, num_layers=2, cell=cell),
        compile=lambda model, optimizer: model.compile(optimizer=optimizer),
        x=x,
        y=y,
    )


@pytest.mark.parametrize("level", ["char", "word"])
def test_lstm_generator_contract(level, text, tmp_path):
    run_model_contract(lstm_spec(level, text), tmp_path)


def test_gru_generator_contract(text, tmp_path):
    run_model_contract(lstm_spec("char", text, cell="gru"), tmp_path)


def test_decoder_transformer_contract(text, tmp_path):
    tokenizer = kg.text.CharTokenizer.from_text(text)
    x, y = _text_spec(tokenizer, text)
    spec = ContractSpec(
        build=lambda: kg.models.DecoderTransformer(tokenizer, max_length=16, num_layers=2, num_heads=2, embedding_dim=16),
        compile=lambda model, optimizer: model.compile(optimizer=optimizer),
        x=x,
        y=y,
    )
    run_model_contract(spec, tmp_path)


def tiny_images(count=8, shape=(8, 8, 1), binary=False):
    rng = np.random.default_rng(0)
    rows = np.linspace(0, 1, shape[0], dtype=np.float32)[None, :, None, None]
    images = np.clip(rows * rng.uniform(0.5, 1.0, (count, 1, 1, 1)) + 0.05 * rng.standard_normal((count, *shape)), 0, 1)
    return (images > 0.5).astype(np.float32) if binary else images.astype(np.float32)


def test_vae_contract(tmp_path):
    spec = ContractSpec(
        build=lambda: kg.models.VAE(image_shape=(8, 8, 1), latent_dim=4, filters=(4, 8), hidden_dim=16),
        compile=lambda model, optimizer: model.compile(optimizer=optimizer),
        x=tiny_images(binary=True),
    )
    run_model_contract(spec, tmp_path)


def test_dcgan_contract(tmp_path):
    def compile_gan(model, optimizer):
        model.compile(d_optimizer=optimizer, g_optimizer=optimizer.__class__.from_config(optimizer.get_config()))

    spec = ContractSpec(
        build=lambda: kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4),
        compile=compile_gan,
        x=tiny_images(),
        loss_key="d_loss",
    )
    run_model_contract(spec, tmp_path)


def test_image_classifier_contract(tmp_path):
    images = tiny_images(count=8)
    spec = ContractSpec(
        build=lambda: kg.models.ImageClassifier(image_shape=(8, 8, 1), num_classes=2, feature_dim=8, dropout=0.0),
        compile=lambda model, optimizer: model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy"),
        x=images,
        y=(images.mean(axis=(1, 2, 3)) > np.median(images.mean(axis=(1, 2, 3)))).astype(np.int32),
    )
    run_model_contract(spec, tmp_path)


def labelled_squares(count=8):
    """8x8 images of a bright 4x4 square, top-left for class 0 and bottom-right for class 1."""
    images = np.zeros((count, 8, 8, 1), np.float32)
    labels = np.arange(count) % 2
    for image, label in zip(images, labels):
        image[4 * label : 4 * label + 4, 4 * label : 4 * label + 4] = 1.0
    return images, labels.astype(np.int32)


@pytest.mark.parametrize("family", ["diffusion", "vae", "dcgan"])
def test_class_conditional_contract(family, tmp_path):
    """The conditional forms. Diffusion's is its whole contract: a conditional diffusion model learns the unconditional
    prediction too (label dropout), and the unconditional model's sampling and saving are what the zoo's
    diffusion-mnist checks everywhere else."""
    images, labels = labelled_squares()

    def compile_gan(model, optimizer):
        model.compile(d_optimizer=optimizer, g_optimizer=optimizer.__class__.from_config(optimizer.get_config()))

    build, compile_model, loss_key = {
        "diffusion": (lambda: kg.models.DiffusionModel(image_shape=(8, 8, 1), widths=(8, 16), block_depth=1,
                                                       num_classes=2),
                      lambda model, optimizer: model.compile(optimizer=optimizer), "loss"),
        "vae": (lambda: kg.models.VAE(image_shape=(8, 8, 1), latent_dim=4, filters=(4, 8), hidden_dim=16,
                                      num_classes=2),
                lambda model, optimizer: model.compile(optimizer=optimizer), "loss"),
        "dcgan": (lambda: kg.models.DCGAN(image_shape=(8, 8, 1), latent_dim=4, filters=4, num_classes=2,
                                          ema_decay=0.9, minibatch_std=True, r1_penalty=1.0,
                                          adversarial_loss="hinge", discriminator_filters=6),
                  compile_gan, "d_loss"),  # with its options
    }[family]
    spec = ContractSpec(build=build, compile=compile_model, x=images, y=labels, loss_key=loss_key)
    run_model_contract(spec, tmp_path)


def realnvp_spec(kind):
    if kind == "vectors":
        return ContractSpec(
            build=lambda: kg.models.RealNVP(input_shape=(2,), num_couplings=2, hidden_units=16, num_blocks=2),
            compile=lambda model, optimizer: model.compile(optimizer=optimizer),
            x=make_moons(16, seed=0),
        )
    rng = np.random.default_rng(0)  # a bright diagonal on a dark background, plus noise
    pixels = np.clip(200 * np.eye(4)[None, :, :, None] + 20 + rng.integers(-20, 30, (8, 4, 4, 1)), 0, 255)
    return ContractSpec(
        build=lambda: kg.models.RealNVP(input_shape=(4, 4, 1), num_scales=1, hidden_units=8, num_blocks=1),
        compile=lambda model, optimizer: model.compile(optimizer=optimizer),
        x=pixels.astype(np.float32) / np.float32(255),
    )


@pytest.mark.parametrize("kind", ["images", "vectors"])
def test_realnvp_contract(kind, tmp_path):
    run_model_contract(realnvp_spec(kind), tmp_path)
