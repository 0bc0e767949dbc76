"""Speed, apart from the report, each run as a module from the project's folder: bench_epoch.py,
seconds per AE epoch (the report's loop, ours, two speed-ups: python -m benchmarks.bench_epoch);
bench_tsne.py, explore.py's t-SNE against scikit-learn's (python -m benchmarks.bench_tsne)."""
