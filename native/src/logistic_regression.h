// Logistic regression as scikit-learn's LogisticRegression(solver="lbfgs") fits it: the linear probe of MTEB's
// classification tasks (paper §3: "logistic regression on top of the text embeddings").
//
// Objective (sklearn <= 1.3, the one its Debian 1.2.1 runs; 1.4+ divides the loss and the penalty by n, which
// moves where L-BFGS stops but not the minimiser):
//   sum_i loss(x_i W^T + b, y_i) + 1 / (2C) * ||W||^2        (intercept b not penalised; float64 throughout)
//   - 2 classes: one weight row (the score of classes[1]), loss = log(1 + e^z) - y z  (sklearn's "ovr" binary);
//   - K > 2 classes: K weight rows, loss = logsumexp(z) - z_y  (multinomial; over-parametrised as sklearn's).
// Classes are the labels present in y, sorted (sklearn's classes_): a label absent from y is never predicted.
// It is minimised from W = 0, b = 0 by the unconstrained path of L-BFGS-B as scipy.optimize.minimize runs it
// (lbfgs_minimize below), with sklearn's arguments: gtol = tol = 1e-4, maxiter = max_iter, scipy's defaults otherwise.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mtpf {

// ---- L-BFGS-B without bounds ----
//
// The iteration of lbfgsb.f 3.0 (Byrd, Lu, Nocedal, Zhu; scipy's L-BFGS-B) for a problem without bounds, step for
// step: direction -H g from the last `memory` pairs with H0 = s'y / y'y of the newest pair (the compact form of
// lbfgsb.f is the same matrix); MINPACK-2's More-Thuente line search (ftol 1e-3, gtol 0.9, xtol 0.1) from the
// step 1 (first iteration: 1 / ||g||); a pair is skipped when s'y <= eps * (-g's); a failed line search restarts
// from steepest descent once. Stops, as scipy's driver does, when the iteration limit is reached, when
// max |g_i| <= gtol, or when (f_old - f) / max(|f_old|, |f|, 1) <= ftol.
struct LbfgsOptions {
  int memory = 10;                      // scipy's maxcor
  int max_iter = 15000;                 // scipy's maxiter
  int max_linesearch = 20;              // scipy's maxls: evaluations per line search
  double gtol = 1e-5;                   // scipy's gtol (pgtol)
  double ftol = 2.220446049250313e-09;  // scipy's ftol (factr 1e7 * machine epsilon)
};

struct LbfgsResult {
  double f = 0;
  int n_iter = 0;  // iterations (accepted line searches), as scipy's nit
  int n_eval = 0;  // objective evaluations, as scipy's nfev
  bool converged = false;  // stopped by gtol or ftol (scipy's status 0)
  std::string message;
};

// f(x); writes the gradient at x into grad (same size as x).
using LbfgsObjective = std::function<double(const std::vector<double>& x, std::vector<double>& grad)>;

// Minimises from x (overwritten by the result).
LbfgsResult lbfgs_minimize(const LbfgsObjective& objective, std::vector<double>& x, const LbfgsOptions& options);

// ---- logistic regression ----

struct LogisticRegressionOptions {
  double C = 1.0;     // inverse of the L2 strength
  int max_iter = 100;  // sklearn's default, and what MTEB sets
  double tol = 1e-4;  // sklearn's tol: scipy's gtol
};

struct LogisticRegressionModel {
  std::vector<int64_t> classes;  // labels seen in training, sorted
  torch::Tensor coef;            // float64 [1, d] for 2 classes (weights of classes[1]), else [K, d]
  torch::Tensor intercept;       // float64 [1] or [K]
  int n_iter = 0;
  bool converged = false;  // false: stopped at max_iter (sklearn's ConvergenceWarning)
  double objective = 0;    // the objective above at the result
};

// X [n, d] (any float dtype, computed in float64), y [n] integer labels (any values; at least two distinct).
LogisticRegressionModel logistic_regression_fit(const torch::Tensor& X, const torch::Tensor& y,
                                                const LogisticRegressionOptions& options = {});

// The objective above and its gradient at params [rows, d + 1] (each row: weights, then the intercept; rows = 1
// for binary). target: binary float64 0/1 [n], or multinomial int64 class index in [0, rows) [n]. grad: null,
// or written with the shape of params. Exposed for the finite-difference test.
double logistic_regression_objective(const torch::Tensor& X, const torch::Tensor& target, bool binary, double C,
                                     const torch::Tensor& params, torch::Tensor* grad);

// sklearn's decision_function: float64 [n] for 2 classes (score of classes[1]), else [n, K].
torch::Tensor logistic_regression_decision(const LogisticRegressionModel& model, const torch::Tensor& X);
// sklearn's predict_proba: float64 [n, K], columns in the order of model.classes.
torch::Tensor logistic_regression_predict_proba(const LogisticRegressionModel& model, const torch::Tensor& X);
// sklearn's predict: int64 [n] labels from model.classes (binary: classes[1] where the score > 0; else the first
// highest score).
torch::Tensor logistic_regression_predict(const LogisticRegressionModel& model, const torch::Tensor& X);

}  // namespace mtpf
