#include "train/batchnorm_statistics.h"

#include <memory>
#include <vector>

#include "model/blocks.h"

namespace dinet::train {
namespace {

// Gives every norm its own momentum back, however the estimation ends.
struct MomentumRestore {
  std::vector<std::shared_ptr<blocks::NormImpl>> norms;
  std::vector<double> saved;
  ~MomentumRestore() {
    for (size_t i = 0; i < norms.size(); ++i) norms[i]->momentum = saved[i];
  }
};

}  // namespace

void estimate_batchnorm_statistics(torch::nn::Module& network, int64_t batches,
                                   const std::function<void(int64_t)>& forward) {
  MomentumRestore restore;
  for (const std::shared_ptr<torch::nn::Module>& child : network.modules(/*include_self=*/false))
    if (auto norm = std::dynamic_pointer_cast<blocks::NormImpl>(child)) {
      restore.norms.push_back(norm);
      restore.saved.push_back(norm->momentum);
    }
  if (restore.norms.empty()) return;
  // The k-th batch weighs 1/k: the first replaces the old statistics, and after the last
  // every batch counts alike.
  for (int64_t k = 0; k < batches; ++k) {
    for (const auto& norm : restore.norms) norm->momentum = 1.0 / static_cast<double>(k + 1);
    forward(k);
  }
}

}  // namespace dinet::train
