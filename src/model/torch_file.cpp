// The containers of torch.save files around their pickles: the zip archive (read and written
// through LibTorch's PyTorchStreamReader/Writer) and the legacy stream of pickles followed by
// raw storages (read only).
#include "dinet/torch_file.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>

#include "dinet/error.h"
#include "dinet/files.h"
#include "model/pickle.h"

namespace dinet {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kZipMagic("PK\x03\x04", 4);
// The first pickle of a legacy file: protocol 2, LONG1 of 10 bytes 0x1950a86a20f9469cfc6c
// (torch.serialization.MAGIC_NUMBER), STOP.
constexpr std::string_view kLegacyMagic(
    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15);
constexpr int64_t kLegacyProtocolVersion = 1001;

// A read-only memory map: legacy files (torchvision's VGG19 is 548 MB) are parsed in place
// and each storage is copied once, into its tensor.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open: " + std::string(std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) == 0) size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (data_ == MAP_FAILED)
      throw Error("cannot map the file into memory: " + std::string(std::strerror(errno)));
  }
  ~MappedFile() {
    if (data_ && data_ != MAP_FAILED) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return {static_cast<const char*>(data_), data_ ? size_ : 0}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

size_t element_size(at::ScalarType dtype) { return c10::elementSize(dtype); }

TorchValue load_zip(const fs::path& file) {
  caffe2::serialize::PyTorchStreamReader reader(file.string());
  if (!reader.hasRecord("data.pkl"))
    throw Error(
        "the archive has no data.pkl (a TorchScript module rather than a torch.save file?)");
  auto [pickle_data, pickle_size] = reader.getRecord("data.pkl");
  const auto load_storage = [&reader](const pickle::StorageRef& ref) {
    const std::string record = "data/" + ref.key;
    if (!reader.hasRecord(record)) throw Error("the archive lacks storage record " + record);
    auto [data, nbytes] = reader.getRecord(record);
    const size_t es = element_size(ref.dtype);
    if (nbytes % es != 0 || nbytes / es != static_cast<uint64_t>(ref.numel))
      throw Error("storage record " + record + " holds " + std::to_string(nbytes) +
                  " bytes, its tensors need " + std::to_string(ref.numel) + " elements of " +
                  std::to_string(es) + " bytes");
    // The record's buffer becomes the tensor's memory, without a copy.
    c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(data), nullptr, false);
    return at::empty({0}, at::TensorOptions().dtype(ref.dtype)).set_(storage, 0, {ref.numel}, {1});
  };
  return pickle::load({static_cast<const char*>(pickle_data.get()), pickle_size}, load_storage);
}

// Legacy layout: pickles of the magic number, the protocol version (1001) and the system info,
// then the object, then the list of storage keys, then each storage in that order as an
// int64 element count followed by its raw little-endian bytes.
TorchValue load_legacy(const fs::path& file) {
  const MappedFile mapped(file);
  std::string_view rest = mapped.bytes().substr(kLegacyMagic.size());
  const auto next_pickle = [&rest](const pickle::StorageLoader& loader) {
    size_t consumed = 0;
    TorchValue value = pickle::load(rest, loader, &consumed);
    rest.remove_prefix(consumed);
    return value;
  };
  const pickle::StorageLoader no_storages = [](const pickle::StorageRef&) -> at::Tensor {
    throw Error("a storage outside the main object");
  };
  if (next_pickle(no_storages).as_int() != kLegacyProtocolVersion)
    throw Error("unsupported legacy protocol version");
  const TorchValue sys_info = next_pickle(no_storages);
  if (const TorchValue* little = sys_info.find("little_endian"); little && !little->as_bool())
    throw Error("big-endian legacy files are not supported");

  // Storage data comes after the object: allocate now, fill once the key list is known.
  std::map<std::string, at::Tensor> storages;
  // Every storage's bytes follow in the file, so together they cannot be larger than it: a
  // malformed file must not make us allocate more than its own size.
  const uint64_t file_size = mapped.bytes().size();
  uint64_t allocated = 0;
  const TorchValue object = next_pickle([&](const pickle::StorageRef& ref) {
    if (static_cast<uint64_t>(ref.numel) > (file_size - allocated) / element_size(ref.dtype))
      throw Error("storage " + ref.key + " is larger than what is left of the file");
    allocated += static_cast<uint64_t>(ref.numel) * element_size(ref.dtype);
    at::Tensor data = at::empty({ref.numel}, at::TensorOptions().dtype(ref.dtype));
    storages.emplace(ref.key, data);
    return data;
  });
  const TorchValue keys = next_pickle(no_storages);
  for (const TorchValue& key : keys.items()) {
    const auto it = storages.find(key.as_string());
    if (it == storages.end())
      throw Error("storage " + key.as_string() + " is listed but never used");
    const at::Tensor& data = it->second;
    int64_t count = 0;
    if (rest.size() < sizeof count) throw Error("truncated (storage data missing)");
    std::memcpy(&count, rest.data(), sizeof count);
    rest.remove_prefix(sizeof count);
    if (count != data.numel()) throw Error("storage " + key.as_string() + " has the wrong size");
    if (rest.size() < data.nbytes()) throw Error("truncated (storage data missing)");
    std::memcpy(data.data_ptr(), rest.data(), data.nbytes());
    rest.remove_prefix(data.nbytes());
  }
  if (keys.items().size() != storages.size()) throw Error("storage data missing from the key list");
  return object;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Messages must stay on one line, yet LibTorch's start with "[enforce fail at <file>:<line>] . "
// and may end in a plea to report them, and both theirs and ours may quote bytes of the
// broken file (a key, a version string).
std::string clean_message(std::string text) {
  if (text.starts_with("[enforce fail at ")) {
    const size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
    if (text.starts_with(". ")) text.erase(0, 2);
  }
  text = text.substr(0, text.find("  (Could this error message be improved?"));
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

}  // namespace

TorchValue load_torch_file(const fs::path& file) {
  require_file(file);
  const std::string name = file.string();
  try {
    std::string head(kLegacyMagic.size(), '\0');
    std::ifstream in(file, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    if (head.empty()) throw Error("empty file");
    if (head.starts_with(kZipMagic)) return load_zip(file);
    if (head == kLegacyMagic) return load_legacy(file);
    throw Error("not a torch.save file (neither a zip archive nor the legacy format)");
  } catch (const Error& e) {
    throw Error(name, clean_message(e.what()));
  } catch (const c10::Error& e) {
    throw Error(name, "malformed or truncated archive: " +
                          clean_message(first_line(e.what_without_backtrace())));
  } catch (const std::bad_alloc&) {
    throw Error(name, "malformed file: sizes beyond the memory available");
  } catch (const std::exception& e) {
    throw Error(name, "malformed file: " + clean_message(first_line(e.what())));
  }
}

void save_torch_file(const fs::path& file, const TorchValue& value) {
  const std::string name = file.string();
  std::vector<pickle::SavedStorage> storages;
  std::string data_pkl;
  try {
    data_pkl = pickle::dump(value, storages);
  } catch (const Error& e) {
    throw Error(name, e.what());
  }
  AtomicFile atomic(file);
  std::ofstream out(atomic.temp_path(), std::ios::binary | std::ios::trunc);
  if (!out) throw Error(name, "cannot open for writing");
  try {
    // The writer throws from its destructor when a write comes up short, so the sink always
    // reports success and the stream's state is checked afterwards.
    caffe2::serialize::PyTorchStreamWriter writer([&out](const void* buf, size_t n) -> size_t {
      if (out) out.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
      return n;
    });
    writer.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
    for (const auto& s : storages)
      writer.writeRecord("data/" + s.key, s.storage.data(), s.storage.nbytes());
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    throw Error(
        name, "cannot write the archive: " + clean_message(first_line(e.what_without_backtrace())));
  }
  out.close();
  if (!out) throw Error(name, "write failed (disk full?)");
  atomic.commit();
}

}  // namespace dinet
