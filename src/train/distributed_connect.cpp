// Joining a job: the environment torchrun and `dinet launch` set, the TCPStore rendezvous
// and the c10d process group. The backends are compiled in when their headers are there:
// Gloo needs Debian's libgloo-dev (the library itself is inside LibTorch); NCCL comes with
// a CUDA LibTorch found through Torch_DIR and the CUDA toolkit's nccl.h.
// PyTorch's own LibTorch defines USE_C10D_GLOO and USE_C10D_NCCL without shipping Gloo's
// headers or nccl.h: what decides is whether the headers are there.
#if __has_include(<gloo/algorithm.h>)
#define DINET_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#endif
#if __has_include(<nccl.h>) && __has_include(<c10/cuda/CUDAFunctions.h>)
#define DINET_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#endif

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef DINET_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef DINET_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <limits>
#include <sstream>

#include "dinet/distributed.h"
#include "dinet/error.h"
#include "train/distributed_group.h"

namespace dinet {
namespace {

const char* variable(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

int int_variable(const char* name, int fallback, int low, int high) {
  const char* text = variable(name);
  if (!text) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno || *end || value < low || value > high)
    throw Error(
        std::string("environment variable ") + name + "=" + text,
        "expected a whole number from " + std::to_string(low) + " to " + std::to_string(high));
  return static_cast<int>(value);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

c10::intrusive_ptr<c10d::Store> open_store(const DistributedConfig& c) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(c.master_port);
  options.isServer = !c.launcher_store && c.rank == 0;
  options.waitWorkers = false;  // the process group's own rendezvous waits for everyone
  options.timeout = c.timeout;
  c10::intrusive_ptr<c10d::Store> store =
      c10::make_intrusive<c10d::TCPStore>(c.master_addr, options);
  // The same scoping torch.distributed uses with a launcher's store, so a restarted job
  // never reads the keys of the attempt before it.
  if (c.launcher_store)
    store = c10::make_intrusive<c10d::PrefixStore>(
        "/worker/attempt_" + std::to_string(c.restart_count), store);
  return store;
}

#ifdef DINET_GLOO
// GLOO_SOCKET_IFNAME names the interfaces as in torch.distributed; a job on one machine
// uses the loopback; otherwise the address this machine's hostname resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const DistributedConfig& c) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* names = variable("GLOO_SOCKET_IFNAME")) {
    std::istringstream list(names);
    for (std::string name; std::getline(list, name, ',');)
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (is_loopback(c.master_addr) || c.local_world_size == c.world_size) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}
#endif

void create_process_group(detail::Group& g, const DistributedConfig& c) {
  if (c.cuda) {
#ifdef DINET_NCCL
    // Without it, NCCL's watchdog never ends a collective that a dead rank left waiting.
    setenv("NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
    setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);  // its name since LibTorch 2.2
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(c.local_rank));
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = c.timeout;
    g.process_group =
        c10::make_intrusive<c10d::ProcessGroupNCCL>(g.store, c.rank, c.world_size, options);
    g.backend = "nccl";
    g.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(c.local_rank));
    return;
#else
    throw Error(
        "distributed training on CUDA needs NCCL: build dinet against a CUDA LibTorch (Torch_DIR) "
        "with the CUDA toolkit's nccl.h");
#endif
  }
#ifdef DINET_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(c.timeout);
  options->devices = gloo_devices(c);
  g.process_group =
      c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, c.rank, c.world_size, options);
  g.backend = "gloo";
  g.device = c10::Device(c10::kCPU);
#else
  throw Error(
      "distributed training on the CPU needs Gloo: install libgloo-dev (make deps) and rebuild "
      "dinet");
#endif
}

}  // namespace

DistributedConfig distributed_config_from_environment(bool cuda) {
  DistributedConfig c;
  c.cuda = cuda;
  constexpr int kMaxInt = std::numeric_limits<int>::max();
  c.world_size = int_variable("WORLD_SIZE", 1, 1, kMaxInt);
  if (c.world_size == 1) return c;
  for (const char* required : {"RANK", "MASTER_ADDR", "MASTER_PORT"})
    if (!variable(required))
      throw Error(std::string("environment variable ") + required,
                  "missing: WORLD_SIZE is " + std::to_string(c.world_size) +
                      ", so RANK, MASTER_ADDR and MASTER_PORT must be set too (torchrun and dinet "
                      "launch set them)");
  c.rank = int_variable("RANK", 0, 0, c.world_size - 1);
  c.local_rank = int_variable("LOCAL_RANK", c.rank, 0, c.world_size - 1);
  c.local_world_size = int_variable("LOCAL_WORLD_SIZE", 0, 1, c.world_size);
  c.master_addr = variable("MASTER_ADDR");
  c.master_port = int_variable("MASTER_PORT", 0, 1, 65535);
  // torchrun's static rendezvous (its default) serves the store from its agent and says so
  // here; with --standalone or --rdzv_backend c10d, rank 0 serves it on MASTER_PORT.
  if (const char* agent = variable("TORCHELASTIC_USE_AGENT_STORE"))
    c.launcher_store = std::string(agent) == "True";
  c.restart_count = int_variable("TORCHELASTIC_RESTART_COUNT", 0, 0, kMaxInt);
  c.timeout = std::chrono::seconds(int_variable("DINET_DIST_TIMEOUT", 120, 1, 24 * 3600));
  return c;
}

Distributed Distributed::from_environment(bool cuda) {
  const DistributedConfig config = distributed_config_from_environment(cuda);
  return config.world_size == 1 ? Distributed() : connect(config);
}

Distributed Distributed::connect(const DistributedConfig& c) {
  if (c.world_size < 1 || c.rank < 0 || c.rank >= c.world_size)
    throw Error("distributed: rank " + std::to_string(c.rank) + " is outside a world of " +
                std::to_string(c.world_size));
  auto g = std::make_shared<detail::Group>();
  g->rank = c.rank;
  g->world_size = c.world_size;
  g->timeout = c.timeout;
  g->bucket_bytes = c.bucket_bytes;
  const std::string where = c.master_addr + ":" + std::to_string(c.master_port);
  const std::string who =
      "distributed: rank " + std::to_string(c.rank) + " of " + std::to_string(c.world_size);
  try {
    g->store = open_store(c);
  } catch (const std::exception& e) {
    throw Error(who + ": no rendezvous store at " + where + " (" + detail::first_line(e) + ")");
  }
  try {
    create_process_group(*g, c);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(who + ": the " + std::to_string(c.world_size) +
                " processes did not all join through " + where + " within " +
                std::to_string(c.timeout.count() / 1000) + " s (" + detail::first_line(e) + ")");
  }
  Distributed d;
  d.group_ = std::move(g);
  d.rank_ = c.rank;
  d.world_size_ = c.world_size;
  d.local_rank_ = c.local_rank;
  d.local_world_size_ = std::max(c.local_world_size, 1);
  return d;
}

}  // namespace dinet
