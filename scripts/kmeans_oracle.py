#!/usr/bin/env python3
"""scikit-learn's MiniBatchKMeans on a data file: the reference native/tests/test_kmeans.cpp compares against.

    kmeans_oracle.py --input X.npy --k 20 --seed 0
    kmeans_oracle.py --input X.f32 --dim 16 --k 20 --seed 0,1,2 --batch-size 1024 --n-init 3

The input is a .npy array or raw little-endian float32 rows (then --dim is needed). Prints one JSON line per seed:
{"seed": 0, "inertia": ..., "n_steps": ..., "n_iter": ..., "sklearn": "1.2.1"}. Needs numpy and scikit-learn (Debian:
apt-get install python3-sklearn, under /usr/bin/python3).
"""
import argparse
import json

import numpy as np
import sklearn
from sklearn.cluster import MiniBatchKMeans


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--dim", type=int, help="features per row, for a raw float32 file")
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--seed", default="0", help="one seed or a comma-separated list")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--max-no-improvement", type=int, default=10, help="0 disables (sklearn's None)")
    ap.add_argument("--reassignment-ratio", type=float, default=0.01)
    ap.add_argument("--tol", type=float, default=0.0)
    ap.add_argument("--n-init", type=int, default=1)
    ap.add_argument("--init-size", type=int, default=0, help="0: sklearn's default")
    a = ap.parse_args()

    if a.input.endswith(".npy"):
        X = np.load(a.input)
    else:
        if not a.dim:
            ap.error("--dim is needed for a raw float32 file")
        X = np.fromfile(a.input, dtype="<f4").reshape(-1, a.dim)
    for seed in [int(s) for s in a.seed.split(",")]:
        fit(X, a, seed)


def fit(X, a, seed):
    km = MiniBatchKMeans(
        n_clusters=a.k,
        init="k-means++",
        batch_size=a.batch_size,
        max_iter=a.max_iter,
        max_no_improvement=a.max_no_improvement or None,
        reassignment_ratio=a.reassignment_ratio,
        tol=a.tol,
        n_init=a.n_init,
        init_size=a.init_size or None,
        random_state=seed,
    ).fit(X)
    print(json.dumps({"seed": seed, "inertia": float(km.inertia_), "n_steps": int(km.n_steps_),
                      "n_iter": int(km.n_iter_), "sklearn": sklearn.__version__}), flush=True)


if __name__ == "__main__":
    main()
