"""Pretrained kerasgen models: ``<name>.keras`` weights beside ``<name>.json`` cards (see ``kerasgen.zoo``)."""
