#include "logistic_regression.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>

#include "errors.h"
#include "torch_compat.h"

namespace mtpf {

namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
constexpr double kStepMax = 1e10;  // lbfgsb.f's `big`: the line search's largest step without bounds

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// MINPACK-2's dcstep (More & Thuente 1994), as lbfgsb.f 3.0 carries it: the safeguarded step from the interval
// [stx, sty] (function fx / fy, derivative dx / dy) and the trial step stp (fp, dp), which it replaces.
void dcstep(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy, double& stp, double fp,
            double dp, bool& brackt, double stpmin, double stpmax) {
  const double sgnd = dp * (dx / std::abs(dx));
  double stpf;
  if (fp > fx) {
    // A higher function value: the minimum is bracketed; the cubic step if it is closer to stx than the
    // quadratic one, else their average.
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const double p = (gamma - dx) + theta;
    const double q = ((gamma - dx) + gamma) + dp;
    const double stpc = stx + (p / q) * (stp - stx);
    const double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
    stpf = std::abs(stpc - stx) < std::abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2.0;
    brackt = true;
  } else if (sgnd < 0) {
    // A lower value and derivatives of opposite sign: bracketed; the step farther from stp.
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta;
    const double q = ((gamma - dp) + gamma) + dx;
    const double stpc = stp + (p / q) * (stx - stp);
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
    brackt = true;
  } else if (std::abs(dp) < std::abs(dx)) {
    // A lower value, same-sign derivatives, and the derivative's magnitude decreases.
    const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    // gamma = 0 only when the cubic does not tend to infinity in the direction of the step.
    double gamma = s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta;
    const double q = (gamma + (dx - dp)) + gamma;
    const double r = p / q;
    double stpc;
    if (r < 0 && gamma != 0)
      stpc = stp + r * (stx - stp);
    else if (stp > stx)
      stpc = stpmax;
    else
      stpc = stpmin;
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (brackt) {
      stpf = std::abs(stpc - stp) < std::abs(stpq - stp) ? stpc : stpq;
      if (stp > stx)
        stpf = std::min(stp + 0.66 * (sty - stp), stpf);
      else
        stpf = std::max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
      stpf = std::min(stpmax, stpf);
      stpf = std::max(stpmin, stpf);
    }
  } else {
    // A lower value, same-sign derivatives, and the derivative's magnitude does not decrease.
    if (brackt) {
      const double theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
      const double s = std::max({std::abs(theta), std::abs(dy), std::abs(dp)});
      double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      const double p = (gamma - dp) + theta;
      const double q = ((gamma - dp) + gamma) + dy;
      stpf = stp + (p / q) * (sty - stp);
    } else {
      stpf = stp > stx ? stpmax : stpmin;
    }
  }
  // The interval that contains a minimiser.
  if (fp > fx) {
    sty = stp;
    fy = fp;
    dy = dp;
  } else {
    if (sgnd < 0) {
      sty = stx;
      fy = fx;
      dy = dx;
    }
    stx = stp;
    fx = fp;
    dx = dp;
  }
  stp = stpf;
}

// MINPACK-2's dcsrch: a step satisfying f(stp) <= f(0) + ftol stp f'(0) and |f'(stp)| <= gtol |f'(0)|, driven by
// reverse communication as lbfgsb.f drives it: start(), then next() after each evaluation of the step it set.
class MoreThuenteSearch {
 public:
  enum class Task { kEvaluate, kConverged, kWarning, kError };

  MoreThuenteSearch(double ftol, double gtol, double xtol, double stpmin, double stpmax)
      : ftol_(ftol), gtol_(gtol), xtol_(xtol), stpmin_(stpmin), stpmax_(stpmax) {}

  Task start(double f, double g, double stp) {
    if (stp < stpmin_ || stp > stpmax_ || g >= 0) return Task::kError;
    brackt_ = false;
    stage_ = 1;
    finit_ = f;
    ginit_ = g;
    gtest_ = ftol_ * ginit_;
    width_ = stpmax_ - stpmin_;
    width1_ = width_ / 0.5;
    stx_ = 0;
    fx_ = finit_;
    gx_ = ginit_;
    sty_ = 0;
    fy_ = finit_;
    gy_ = ginit_;
    stmin_ = 0;
    stmax_ = stp + 4.0 * stp;
    return Task::kEvaluate;
  }

  // f, g: the function and directional derivative at stp; sets the next step to evaluate.
  Task next(double f, double g, double& stp) {
    const double ftest = finit_ + stp * gtest_;
    if (stage_ == 1 && f <= ftest && g >= 0) stage_ = 2;
    Task task = Task::kEvaluate;
    if (brackt_ && (stp <= stmin_ || stp >= stmax_)) task = Task::kWarning;  // rounding errors prevent progress
    if (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_) task = Task::kWarning;  // xtol test satisfied
    if (stp == stpmax_ && f <= ftest && g <= gtest_) task = Task::kWarning;   // stp = stpmax
    if (stp == stpmin_ && (f > ftest || g >= gtest_)) task = Task::kWarning;  // stp = stpmin
    if (f <= ftest && std::abs(g) <= gtol_ * (-ginit_)) task = Task::kConverged;
    if (task != Task::kEvaluate) return task;

    if (stage_ == 1 && f <= fx_ && f > ftest) {
      // A lower value without sufficient decrease: step on the modified function f(stp) - stp * gtest.
      double fm = f - stp * gtest_, fxm = fx_ - stx_ * gtest_, fym = fy_ - sty_ * gtest_;
      double gm = g - gtest_, gxm = gx_ - gtest_, gym = gy_ - gtest_;
      dcstep(stx_, fxm, gxm, sty_, fym, gym, stp, fm, gm, brackt_, stmin_, stmax_);
      fx_ = fxm + stx_ * gtest_;
      fy_ = fym + sty_ * gtest_;
      gx_ = gxm + gtest_;
      gy_ = gym + gtest_;
    } else {
      dcstep(stx_, fx_, gx_, sty_, fy_, gy_, stp, f, g, brackt_, stmin_, stmax_);
    }
    if (brackt_) {  // bisect when the interval did not shrink enough
      if (std::abs(sty_ - stx_) >= 0.66 * width1_) stp = stx_ + 0.5 * (sty_ - stx_);
      width1_ = width_;
      width_ = std::abs(sty_ - stx_);
    }
    if (brackt_) {
      stmin_ = std::min(stx_, sty_);
      stmax_ = std::max(stx_, sty_);
    } else {
      stmin_ = stp + 1.1 * (stp - stx_);
      stmax_ = stp + 4.0 * (stp - stx_);
    }
    stp = std::min(std::max(stp, stpmin_), stpmax_);
    // No further progress possible: the best step so far.
    if ((brackt_ && (stp <= stmin_ || stp >= stmax_)) || (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_)) stp = stx_;
    return Task::kEvaluate;
  }

 private:
  double ftol_, gtol_, xtol_, stpmin_, stpmax_;
  bool brackt_ = false;
  int stage_ = 1;
  double finit_ = 0, ginit_ = 0, gtest_ = 0, width_ = 0, width1_ = 0;
  double stx_ = 0, fx_ = 0, gx_ = 0, sty_ = 0, fy_ = 0, gy_ = 0, stmin_ = 0, stmax_ = 0;
};

struct CorrectionPair {
  std::vector<double> s, y;
  double sy;  // s'y as lbfgsb.f computes it: (g_new'd - g_old'd) * stp
};

// d = -H g by the two-loop recursion, H0 = I / theta.
void lbfgs_direction(const std::vector<double>& g, const std::deque<CorrectionPair>& pairs, double theta,
                     std::vector<double>& d) {
  const size_t n = g.size();
  std::vector<double> q = g, alpha(pairs.size());
  for (size_t k = pairs.size(); k-- > 0;) {
    alpha[k] = dot(pairs[k].s, q) / pairs[k].sy;
    for (size_t i = 0; i < n; ++i) q[i] -= alpha[k] * pairs[k].y[i];
  }
  for (size_t i = 0; i < n; ++i) q[i] /= theta;
  for (size_t k = 0; k < pairs.size(); ++k) {
    const double beta = dot(pairs[k].y, q) / pairs[k].sy;
    for (size_t i = 0; i < n; ++i) q[i] += (alpha[k] - beta) * pairs[k].s[i];
  }
  d.resize(n);
  for (size_t i = 0; i < n; ++i) d[i] = -q[i];
}

}  // namespace

LbfgsResult lbfgs_minimize(const LbfgsObjective& objective, std::vector<double>& x, const LbfgsOptions& options) {
  if (options.memory < 1 || options.max_iter < 1 || options.max_linesearch < 1)
    fail("L-BFGS: memory (", options.memory, "), max_iter (", options.max_iter, ") and max_linesearch (",
         options.max_linesearch, ") must be positive");
  const size_t n = x.size();
  std::vector<double> g(n), d(n), x_old(n), g_old(n);
  LbfgsResult result;
  double f = objective(x, g);
  result.n_eval = 1;
  if (max_abs(g) <= options.gtol) {
    result.f = f;
    result.converged = true;
    result.message = "projected gradient <= gtol";
    return result;
  }
  std::deque<CorrectionPair> pairs;
  double theta = 1.0;
  int iter = 0;
  while (true) {
    lbfgs_direction(g, pairs, theta, d);

    // Line search along d from x_old (lbfgsb.f's lnsrlb).
    x_old = x;
    g_old = g;
    const double f_old = f;
    double stp = iter == 0 ? std::min(1.0 / std::sqrt(dot(d, d)), kStepMax) : 1.0;
    double gd = dot(g, d);
    const double gd_old = gd;
    bool failed = !(gd < 0);  // not a descent direction (or NaN)
    if (!failed) {
      MoreThuenteSearch search(1e-3, 0.9, 0.1, 0.0, kStepMax);
      auto task = search.start(f, gd, stp);
      int evaluations = 0;
      while (task == MoreThuenteSearch::Task::kEvaluate) {
        if (evaluations == options.max_linesearch) {
          failed = true;
          break;
        }
        for (size_t i = 0; i < n; ++i) x[i] = stp * d[i] + x_old[i];
        f = objective(x, g);
        ++evaluations;
        ++result.n_eval;
        gd = dot(g, d);
        task = search.next(f, gd, stp);
      }
      if (task == MoreThuenteSearch::Task::kError) failed = true;
    }
    if (failed) {
      x = x_old;
      g = g_old;
      f = f_old;
      if (pairs.empty()) {
        result.message = "abnormal termination in line search";
        ++iter;
        break;
      }
      pairs.clear();  // lbfgsb.f: refresh the memory and restart from steepest descent
      theta = 1.0;
      continue;
    }

    ++iter;
    if (iter >= options.max_iter) {  // scipy's driver checks its limit before the convergence tests
      result.message = "iteration limit reached";
      break;
    }
    if (max_abs(g) <= options.gtol) {
      result.converged = true;
      result.message = "projected gradient <= gtol";
      break;
    }
    if (f_old - f <= options.ftol * std::max({std::abs(f_old), std::abs(f), 1.0})) {
      result.converged = true;
      result.message = "relative reduction of f <= ftol";
      break;
    }

    CorrectionPair pair;
    pair.s.resize(n);
    pair.y.resize(n);
    for (size_t i = 0; i < n; ++i) {
      pair.s[i] = stp * d[i];
      pair.y[i] = g[i] - g_old[i];
    }
    pair.sy = (gd - gd_old) * stp;
    if (pair.sy <= kEpsilon * (-gd_old * stp)) continue;  // curvature too small: skip the update
    theta = dot(pair.y, pair.y) / pair.sy;
    pairs.push_back(std::move(pair));
    if (static_cast<int>(pairs.size()) > options.memory) pairs.pop_front();
  }
  result.f = f;
  result.n_iter = iter;
  return result;
}

double logistic_regression_objective(const torch::Tensor& X, const torch::Tensor& target, bool binary, double C,
                                     const torch::Tensor& params, torch::Tensor* grad) {
  NoGradNoAutocast guard;
  const int64_t d = X.size(1);
  auto w = params.narrow(1, 0, d);
  auto b = params.select(1, d);
  auto raw = torch::addmm(b.unsqueeze(0), X, w.t());  // [n, rows]
  double loss;
  torch::Tensor grad_raw;
  if (binary) {
    auto z = raw.squeeze(1);
    auto log1pexp = z.clamp_min(0) + torch::log1p(torch::exp(-z.abs()));  // log(1 + e^z) without overflow
    loss = (log1pexp - target * z).sum().item<double>();
    grad_raw = (torch::sigmoid(z) - target).unsqueeze(1);
  } else {
    auto index = target.unsqueeze(1);
    loss = (torch::logsumexp(raw, 1).sum() - raw.gather(1, index).sum()).item<double>();
    grad_raw = torch::softmax(raw, 1);
    grad_raw.scatter_add_(1, index, torch::full({raw.size(0), 1}, -1.0, raw.options()));
  }
  loss += 0.5 / C * w.pow(2).sum().item<double>();
  if (grad) {
    *grad = torch::empty_like(params);
    grad->narrow(1, 0, d).copy_(torch::mm(grad_raw.t(), X) + w / C);
    grad->select(1, d).copy_(grad_raw.sum(0));
  }
  return loss;
}

LogisticRegressionModel logistic_regression_fit(const torch::Tensor& X_in, const torch::Tensor& y_in,
                                                const LogisticRegressionOptions& options) {
  NoGradNoAutocast guard;
  if (X_in.dim() != 2 || y_in.dim() != 1 || X_in.size(0) != y_in.size(0))
    fail("logistic regression: X must be [n, d] and y [n], got X ", X_in.sizes(), " and y ", y_in.sizes());
  if (X_in.size(0) == 0 || X_in.size(1) == 0) fail("logistic regression: empty training data ", X_in.sizes());
  if (!(options.C > 0)) fail("logistic regression: C must be positive, got ", options.C);
  if (options.max_iter < 1) fail("logistic regression: max_iter must be positive, got ", options.max_iter);
  if (!(options.tol >= 0)) fail("logistic regression: tol must be >= 0, got ", options.tol);
  if (torch::is_floating_point(y_in)) fail("logistic regression: labels must be integers");
  auto X = X_in.to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(X).all().item<bool>()) fail("logistic regression: X contains NaN or Inf");
  auto y = y_in.to(torch::kCPU, torch::kLong).contiguous();

  LogisticRegressionModel model;
  auto unique = std::get<0>(torch::_unique(y, /*sorted=*/true));
  for (int64_t i = 0; i < unique.size(0); ++i) model.classes.push_back(unique[i].item<int64_t>());
  if (model.classes.size() < 2)
    fail("logistic regression needs samples of at least 2 classes, got only class ", model.classes[0]);
  const bool binary = model.classes.size() == 2;
  const int64_t d = X.size(1);
  const int64_t rows = binary ? 1 : static_cast<int64_t>(model.classes.size());

  torch::Tensor target;
  if (binary) {
    target = (y == model.classes[1]).to(torch::kFloat64);
  } else {
    target = torch::searchsorted(unique, y);  // index of each label in classes
  }

  std::vector<double> params(rows * (d + 1), 0.0);
  const auto options64 = torch::TensorOptions().dtype(torch::kFloat64);
  LbfgsObjective objective = [&](const std::vector<double>& p, std::vector<double>& grad) {
    auto P = torch::from_blob(const_cast<double*>(p.data()), {rows, d + 1}, options64);
    torch::Tensor G;
    const double f = logistic_regression_objective(X, target, binary, options.C, P, &G);
    std::memcpy(grad.data(), G.contiguous().data_ptr<double>(), grad.size() * sizeof(double));
    return f;
  };
  LbfgsOptions lbfgs;
  lbfgs.max_iter = options.max_iter;
  lbfgs.gtol = options.tol;
  auto result = lbfgs_minimize(objective, params, lbfgs);

  auto P = torch::from_blob(params.data(), {rows, d + 1}, options64).clone();
  model.coef = P.narrow(1, 0, d).contiguous();
  model.intercept = P.select(1, d).contiguous();
  model.n_iter = result.n_iter;
  model.converged = result.converged;
  model.objective = result.f;
  return model;
}

torch::Tensor logistic_regression_decision(const LogisticRegressionModel& model, const torch::Tensor& X_in) {
  NoGradNoAutocast guard;
  if (!model.coef.defined()) fail("logistic regression: the model is not fitted");
  if (X_in.dim() != 2 || X_in.size(1) != model.coef.size(1))
    fail("logistic regression: X must be [n, ", model.coef.size(1), "], got ", X_in.sizes());
  auto X = X_in.to(torch::kCPU, torch::kFloat64);
  auto scores = torch::addmm(model.intercept.unsqueeze(0), X, model.coef.t());
  return model.classes.size() == 2 ? scores.squeeze(1) : scores;
}

torch::Tensor logistic_regression_predict_proba(const LogisticRegressionModel& model, const torch::Tensor& X) {
  NoGradNoAutocast guard;
  auto scores = logistic_regression_decision(model, X);
  if (model.classes.size() == 2) {
    auto p = torch::sigmoid(scores);
    return torch::stack({1 - p, p}, 1);
  }
  return torch::softmax(scores, 1);
}

torch::Tensor logistic_regression_predict(const LogisticRegressionModel& model, const torch::Tensor& X) {
  NoGradNoAutocast guard;
  auto scores = logistic_regression_decision(model, X).contiguous();
  const int64_t n = scores.size(0);
  auto out = torch::empty({n}, torch::kLong);
  auto* o = out.data_ptr<int64_t>();
  const double* s = scores.data_ptr<double>();
  if (model.classes.size() == 2) {
    for (int64_t i = 0; i < n; ++i) o[i] = model.classes[s[i] > 0 ? 1 : 0];
  } else {
    const int64_t k = scores.size(1);
    for (int64_t i = 0; i < n; ++i) {  // first highest score, as numpy's argmax
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j)
        if (s[i * k + j] > s[i * k + best]) best = j;
      o[i] = model.classes[best];
    }
  }
  return out;
}

}  // namespace mtpf
