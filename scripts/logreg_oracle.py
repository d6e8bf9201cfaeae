#!/usr/bin/env python3
"""scikit-learn's LogisticRegression and MTEB's classification protocol on data files: the references that
native/tests/test_logistic_regression.cpp and trainer's io.mtpf.eval tests compare against.

    logreg_oracle.py fit  --train-x X.f32 --train-y y.i32 --test-x T.f32 --dim 16 [--C 1 --max-iter 100]
    logreg_oracle.py mteb --train-x X.f32 --train-y y.i32 --test-x T.f32 --test-y t.i32 --dim 16 \
                          [--samples-per-label 8 --n-experiments 10 --seed 42]

Features are raw little-endian float32 rows (--dim per row), labels raw little-endian int32. Prints one JSON object.
fit: {"classes", "coef", "intercept", "n_iter", "predictions", "proba", "sklearn"} of
LogisticRegression(max_iter=..., C=...) with everything else default (lbfgs, tol 1e-4), as MTEB builds it.
mteb: what mteb 1.x's AbsTaskClassification._evaluate_subset + logRegClassificationEvaluator compute, without mteb
itself (not needed here): per experiment the train indices it keeps and its scores, then their means. Needs numpy
and scikit-learn (Debian: apt-get install python3-sklearn, under /usr/bin/python3).
"""
import argparse
import json
from collections import defaultdict

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, f1_score


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["fit", "mteb"])
    ap.add_argument("--train-x", required=True)
    ap.add_argument("--train-y", required=True)
    ap.add_argument("--test-x", required=True)
    ap.add_argument("--test-y")
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--samples-per-label", type=int, default=8)
    ap.add_argument("--n-experiments", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    X = np.fromfile(a.train_x, dtype="<f4").reshape(-1, a.dim)
    y = np.fromfile(a.train_y, dtype="<i4")
    T = np.fromfile(a.test_x, dtype="<f4").reshape(-1, a.dim)
    if a.mode == "fit":
        clf = LogisticRegression(C=a.C, max_iter=a.max_iter).fit(X, y)
        print(json.dumps({"classes": clf.classes_.tolist(), "coef": clf.coef_.tolist(),
                          "intercept": clf.intercept_.tolist(), "n_iter": int(clf.n_iter_[0]),
                          "predictions": clf.predict(T).tolist(), "proba": clf.predict_proba(T).tolist(),
                          "sklearn": sklearn.__version__}))
    else:
        if not a.test_y:
            ap.error("mteb needs --test-y")
        print(json.dumps(mteb(X, y, T, np.fromfile(a.test_y, dtype="<i4"), a)))


def mteb(X, y, T, t, a):
    # mteb 1.x: _undersample_data shuffles the carried-over idxs with the global numpy RNG, which the evaluator
    # built right after it reseeds (Evaluator.__init__: np.random.seed(42)); so every experiment shuffles with a
    # fresh RandomState(seed) (mteb 2 writes exactly that, "for backward compatibility with v1").
    idxs = np.arange(len(y))
    experiments = []
    for _ in range(a.n_experiments):
        np.random.RandomState(a.seed).shuffle(idxs)
        counter = defaultdict(int)
        kept = []
        for i in idxs:
            if counter[y[i]] < a.samples_per_label:
                kept.append(int(i))
                counter[y[i]] += 1
        clf = LogisticRegression(random_state=a.seed, n_jobs=-1, max_iter=a.max_iter).fit(X[kept], y[kept])
        pred = clf.predict(T)
        scores = {"accuracy": accuracy_score(t, pred), "f1": f1_score(t, pred, average="macro"),
                  "f1_weighted": f1_score(t, pred, average="weighted")}
        if len(np.unique(y[kept])) == 2:
            scores["ap"] = average_precision_score(t, pred)
        experiments.append({"train_indices": kept, "n_iter": int(clf.n_iter_[0]), "scores": scores})
    means = {k: float(np.mean([e["scores"][k] for e in experiments])) for k in experiments[0]["scores"]}
    return {"experiments": experiments, "means": means, "sklearn": sklearn.__version__}


if __name__ == "__main__":
    main()
