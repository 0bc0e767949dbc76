"""Beyond the report: experiments the report does not make, each run as a step of its own.

samples.py  the third claim of sections 3.4 and 3.5, "the VAE's samples are meaningful":
            every sampler fitted to the AE's training codes, judged against the test
            images (python -m beyond.samples)
judge.py    the judge it uses: a small CNN, its scores, the Frechet distance
labels.py   what pretraining buys when labels are few (python -m beyond.labels)
"""
