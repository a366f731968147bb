#include "eval/frechet.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "dinet/error.h"

namespace dinet::eval {
namespace {

// The square root of a symmetric positive semi-definite matrix; rounding can leave tiny
// negative eigenvalues, which are zero.
at::Tensor symmetric_sqrt(const at::Tensor& m) {
  const auto [values, vectors] = at::linalg_eigh(m);
  return at::matmul(vectors * values.clamp_min(0).sqrt(), vectors.transpose(0, 1));
}

}  // namespace

FeatureStatistics feature_statistics(const at::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2)
    throw Error("FID needs at least 2 feature vectors");
  const at::Tensor x = features.to(at::kDouble);
  const at::Tensor mean = x.mean(0);
  const at::Tensor centred = x - mean;
  return {mean, at::matmul(centred.transpose(0, 1), centred) / static_cast<double>(x.size(0) - 1)};
}

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  const at::Tensor root_a = symmetric_sqrt(a.covariance);
  at::Tensor product = at::matmul(at::matmul(root_a, b.covariance), root_a);
  product = (product + product.transpose(0, 1)) / 2;
  const double cross = at::linalg_eigvalsh(product).clamp_min(0).sqrt().sum().item<double>();
  return (a.mean - b.mean).pow(2).sum().item<double>() + a.covariance.trace().item<double>() +
         b.covariance.trace().item<double>() - 2 * cross;
}

double frechet_distance(const at::Tensor& features_a, const at::Tensor& features_b) {
  const int64_t na = features_a.size(0), nb = features_b.size(0), dims = features_a.size(1);
  if (std::max(na, nb) >= dims) return frechet_distance(feature_statistics(features_a), feature_statistics(features_b));
  if (na < 2 || nb < 2) throw Error("FID needs at least 2 feature vectors");
  const at::Tensor a = features_a.to(at::kDouble), b = features_b.to(at::kDouble);
  const at::Tensor mean_a = a.mean(0), mean_b = b.mean(0);
  const at::Tensor centred_a = a - mean_a, centred_b = b - mean_b;
  const double scale_a = static_cast<double>(na - 1), scale_b = static_cast<double>(nb - 1);
  const double cross = at::linalg_svdvals(at::matmul(centred_a, centred_b.transpose(0, 1))).sum().item<double>() /
                       std::sqrt(scale_a * scale_b);
  return (mean_a - mean_b).pow(2).sum().item<double>() + centred_a.pow(2).sum().item<double>() / scale_a +
         centred_b.pow(2).sum().item<double>() / scale_b - 2 * cross;
}

}  // namespace dinet::eval
