"""Building blocks shared by the model families, registered for safe ``.keras`` loading."""
