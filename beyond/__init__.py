"""Beyond the report, each run as a step of its own: samples.py, the third claim of sections 3.4
and 3.5, "the VAE's samples are meaningful" (python -m beyond.samples), with judge.py, the CNN
that judges them; labels.py, what pretraining buys when labels are few (python -m beyond.labels)."""
