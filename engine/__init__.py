"""Training, inference and evaluation: the work main.py dispatches to."""
