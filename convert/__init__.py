"""Exports of a trained model for phones, each checked against the Keras original."""
