"""``fundus-train``: retrain Fundus Viewer's models on your own data, with the same core code."""
