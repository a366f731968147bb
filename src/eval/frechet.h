// The Fréchet distance between two Gaussians fitted to feature sets (FID's formula):
//   |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)
// The last trace is taken from the eigenvalues of the symmetric S1^1/2 S2 S1^1/2 in double
// precision, which stays real and stable where scipy's sqrtm of S1 S2 needs an epsilon.
#pragma once

#include <ATen/Tensor.h>

namespace dinet::eval {

struct FeatureStatistics {
  at::Tensor mean;        // (D) double
  at::Tensor covariance;  // (D, D) double, unbiased (numpy.cov's N - 1)
};

// `features`: (N, D) with N >= 2.
FeatureStatistics feature_statistics(const at::Tensor& features);

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

// FID of two feature sets (N, D). With fewer vectors than dimensions (a few hundred frames
// against Inception's 2048) the trace term is taken from the N x N side instead of
// decomposing D x D matrices: with centred features A and B, the square roots of the
// eigenvalues of S1 S2 are the singular values of A B^T / sqrt((Na - 1)(Nb - 1)).
double frechet_distance(const at::Tensor& features_a, const at::Tensor& features_b);

}  // namespace dinet::eval
