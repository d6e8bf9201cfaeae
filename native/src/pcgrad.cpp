#include "pcgrad.h"

#include <algorithm>
#include <cmath>

namespace mtpf {

namespace {

double dot(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].defined() && b[i].defined()) s += (a[i].to(torch::kFloat64) * b[i].to(torch::kFloat64)).sum().item<double>();
  return s;
}

}  // namespace

std::vector<torch::Tensor> pcgrad_combine(const std::vector<std::vector<torch::Tensor>>& grads, std::mt19937_64& rng) {
  const size_t tasks = grads.size();
  std::vector<double> sq_norm(tasks);
  for (size_t t = 0; t < tasks; ++t) sq_norm[t] = dot(grads[t], grads[t]);
  std::vector<std::vector<torch::Tensor>> projected(tasks);
  for (size_t t = 0; t < tasks; ++t) {
    projected[t].reserve(grads[t].size());
    for (const auto& g : grads[t]) projected[t].push_back(g.defined() ? g.clone() : g);
    std::vector<size_t> others;
    for (size_t o = 0; o < tasks; ++o)
      if (o != t) others.push_back(o);
    std::shuffle(others.begin(), others.end(), rng);  // random task order
    for (size_t o : others) {
      const double d = dot(projected[t], grads[o]);
      if (d >= 0 || sq_norm[o] == 0) continue;
      const double coef = d / sq_norm[o];
      for (size_t p = 0; p < projected[t].size(); ++p)
        if (projected[t][p].defined() && grads[o][p].defined()) projected[t][p].sub_(grads[o][p] * coef);
    }
  }
  std::vector<torch::Tensor> out(grads.empty() ? 0 : grads[0].size());
  for (size_t p = 0; p < out.size(); ++p)
    for (size_t t = 0; t < tasks; ++t)
      if (projected[t][p].defined()) out[p] = out[p].defined() ? out[p] + projected[t][p] : projected[t][p];
  return out;
}

double gradient_cosine(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  const double na = dot(a, a), nb = dot(b, b);
  if (na == 0 || nb == 0) return std::nan("");
  return dot(a, b) / std::sqrt(na * nb);
}

}  // namespace mtpf
