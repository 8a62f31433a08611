// pqc_iiot.hpp - header-only C++17 layer over the C API in pqc_iiot.h.
//
//   pqc_iiot::ensure_abi();                     // refuse a mismatched library
//   pqc_iiot::Kem kem("ML-KEM-768");
//   auto keys = kem.keypair();                  // {public_key, secret_key}
//   auto [ct, ss] = kem.encapsulate(keys.public_key);
//   auto ss2 = kem.decapsulate(keys.secret_key, ct);
//
//   pqc_iiot::Signature dsa("ML-DSA-65");
//   auto id = dsa.keypair();
//   auto sig = dsa.sign(id.secret_key, "message");
//   bool ok = dsa.verify(id.public_key, "message", sig);
//
// Failures throw pqc_iiot::Error (or a subclass per status) carrying the C
// status and the library's detail; the one expected negative outcome,
// a signature that does not verify, is verify() returning false.
//
// Secrets (secret keys, shared secrets) are returned as SecretBytes, which
// zeroes its memory when destroyed. Objects are move-only owners of a C
// handle; a moved-from object throws Closed when used, as the C API does for
// a freed handle. Every method may be called concurrently on one object.
#ifndef PQC_IIOT_HPP
#define PQC_IIOT_HPP

#include <pqc_iiot.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "pqc_iiot.hpp needs C++17"
#endif

namespace pqc_iiot {

// ---- Errors -----------------------------------------------------------------

// The C status codes as an enum; the values are the stable ABI values.
enum class Status : int {
  ok = PQC_OK,
  invalid_argument = PQC_ERR_INVALID_ARGUMENT,
  buffer_too_small = PQC_ERR_BUFFER_TOO_SMALL,
  unsupported = PQC_ERR_UNSUPPORTED,
  verify_failed = PQC_ERR_VERIFY,
  closed = PQC_ERR_CLOSED,
  internal = PQC_ERR_INTERNAL,
  replay = PQC_ERR_REPLAY,
  policy = PQC_ERR_POLICY,
  timeout = PQC_ERR_TIMEOUT,
  io = PQC_ERR_IO,
  rate_limited = PQC_ERR_RATE_LIMITED,
  state = PQC_ERR_STATE,
  revoked = PQC_ERR_REVOKED,
  expired = PQC_ERR_EXPIRED,
  untrusted = PQC_ERR_UNTRUSTED,
  rollback = PQC_ERR_ROLLBACK,
  wrong_key = PQC_ERR_WRONG_KEY,
  corrupt = PQC_ERR_CORRUPT,
};

// Any failure of the library. what() is "<operation>: <status name>:
// <detail from pqc_last_error>".
class Error : public std::runtime_error {
 public:
  Error(int status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }
  Status code() const noexcept { return static_cast<Status>(status_); }

 private:
  int status_;
};

class InvalidArgument : public Error {
 public:
  using Error::Error;
};
class BufferTooSmall : public Error {
 public:
  using Error::Error;
};
class Unsupported : public Error {
 public:
  using Error::Error;
};
class VerifyFailed : public Error {
 public:
  using Error::Error;
};
class Closed : public Error {
 public:
  using Error::Error;
};
class InternalError : public Error {
 public:
  using Error::Error;
};

#define PQC_IIOT_HPP_ERROR_(name) \
  class name : public Error {     \
   public:                        \
    using Error::Error;           \
  }
PQC_IIOT_HPP_ERROR_(Replay);
PQC_IIOT_HPP_ERROR_(PolicyError);
PQC_IIOT_HPP_ERROR_(Timeout);
PQC_IIOT_HPP_ERROR_(IoError);
PQC_IIOT_HPP_ERROR_(RateLimited);
PQC_IIOT_HPP_ERROR_(StateError);
PQC_IIOT_HPP_ERROR_(Revoked);
PQC_IIOT_HPP_ERROR_(Expired);
PQC_IIOT_HPP_ERROR_(Untrusted);
PQC_IIOT_HPP_ERROR_(Rollback);
PQC_IIOT_HPP_ERROR_(WrongKey);
PQC_IIOT_HPP_ERROR_(Corrupt);
#undef PQC_IIOT_HPP_ERROR_
// Header and loaded library disagree on the ABI (see ensure_abi()).
class AbiMismatch : public Error {
 public:
  using Error::Error;
};

namespace detail {

// Must run right after the failing call, on the same thread, because the
// library keeps only the latest detail per thread.
[[noreturn]] inline void throw_status(int status, const char *operation) {
  const char *detail = pqc_last_error();
  std::string msg = std::string(operation) + ": " + pqc_strerror(status);
  if (detail != nullptr && detail[0] != '\0') {
    msg += ": ";
    msg += detail;
  }
  switch (status) {
    case PQC_ERR_INVALID_ARGUMENT:
      throw InvalidArgument(status, msg);
    case PQC_ERR_BUFFER_TOO_SMALL:
      throw BufferTooSmall(status, msg);
    case PQC_ERR_UNSUPPORTED:
      throw Unsupported(status, msg);
    case PQC_ERR_VERIFY:
      throw VerifyFailed(status, msg);
    case PQC_ERR_CLOSED:
      throw Closed(status, msg);
    case PQC_ERR_INTERNAL:
      throw InternalError(status, msg);
    case PQC_ERR_REPLAY:
      throw Replay(status, msg);
    case PQC_ERR_POLICY:
      throw PolicyError(status, msg);
    case PQC_ERR_TIMEOUT:
      throw Timeout(status, msg);
    case PQC_ERR_IO:
      throw IoError(status, msg);
    case PQC_ERR_RATE_LIMITED:
      throw RateLimited(status, msg);
    case PQC_ERR_STATE:
      throw StateError(status, msg);
    case PQC_ERR_REVOKED:
      throw Revoked(status, msg);
    case PQC_ERR_EXPIRED:
      throw Expired(status, msg);
    case PQC_ERR_UNTRUSTED:
      throw Untrusted(status, msg);
    case PQC_ERR_ROLLBACK:
      throw Rollback(status, msg);
    case PQC_ERR_WRONG_KEY:
      throw WrongKey(status, msg);
    case PQC_ERR_CORRUPT:
      throw Corrupt(status, msg);
    default:
      throw Error(status, msg);
  }
}

inline void check(int status, const char *operation) {
  if (status != PQC_OK) {
    throw_status(status, operation);
  }
}

// Zeroing through a volatile pointer so the compiler cannot drop it as a
// dead store before deallocation.
inline void secure_zero(void *p, std::size_t n) noexcept {
  volatile unsigned char *v = static_cast<volatile unsigned char *>(p);
  while (n-- > 0) {
    *v++ = 0;
  }
}

// Size queries return 0 only for an invalid handle.
inline std::size_t check_size(std::size_t n, const char *operation) {
  if (n == 0) {
    throw Closed(PQC_ERR_CLOSED, std::string(operation) + ": " +
                                     pqc_strerror(PQC_ERR_CLOSED));
  }
  return n;
}

}  // namespace detail

// ---- Byte containers --------------------------------------------------------

// Bytes that are secret: zeroed on destruction, on assignment over them, and
// when moved from. Copies are explicit (copy constructor) and wiped the same
// way. Compare with equals(), which takes time independent of the contents.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : bytes_(n) {}
  SecretBytes(const std::uint8_t *p, std::size_t n) : bytes_(p, p + n) {}
  SecretBytes(const SecretBytes &other) = default;
  SecretBytes(SecretBytes &&other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  SecretBytes &operator=(const SecretBytes &other) {
    if (this != &other) {
      wipe();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  SecretBytes &operator=(SecretBytes &&other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  std::uint8_t *data() noexcept { return bytes_.data(); }
  const std::uint8_t *data() const noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return bytes_.size(); }
  bool empty() const noexcept { return bytes_.empty(); }
  std::uint8_t &operator[](std::size_t i) noexcept { return bytes_[i]; }
  std::uint8_t operator[](std::size_t i) const noexcept { return bytes_[i]; }
  const std::uint8_t *begin() const noexcept { return bytes_.data(); }
  const std::uint8_t *end() const noexcept { return bytes_.data() + bytes_.size(); }

  // Constant-time comparison (for equal sizes).
  bool equals(const SecretBytes &other) const noexcept {
    if (size() != other.size()) {
      return false;
    }
    unsigned char acc = 0;
    for (std::size_t i = 0; i < size(); i++) {
      acc |= static_cast<unsigned char>(bytes_[i] ^ other.bytes_[i]);
    }
    return acc == 0;
  }

  // Zeroes the contents and releases them.
  void wipe() noexcept {
    if (!bytes_.empty()) {
      detail::secure_zero(bytes_.data(), bytes_.size());
    }
    bytes_.clear();
    bytes_.shrink_to_fit();
  }

  // An unprotected copy, for APIs that need a vector; the caller owns the
  // risk of that copy outliving its use.
  std::vector<std::uint8_t> to_vector() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

inline bool operator==(const SecretBytes &a, const SecretBytes &b) noexcept {
  return a.equals(b);
}
inline bool operator!=(const SecretBytes &a, const SecretBytes &b) noexcept {
  return !a.equals(b);
}

// A non-owning view of input bytes (std::span<const uint8_t> before C++20).
// It must not outlive what it views.
class ByteView {
 public:
  constexpr ByteView() noexcept = default;
  constexpr ByteView(const std::uint8_t *data, std::size_t size) noexcept
      : data_(data), size_(size) {}
  ByteView(const std::vector<std::uint8_t> &v) noexcept  // NOLINT: implicit by design
      : data_(v.data()), size_(v.size()) {}
  template <std::size_t N>
  constexpr ByteView(const std::array<std::uint8_t, N> &a) noexcept  // NOLINT
      : data_(a.data()), size_(N) {}
  ByteView(const SecretBytes &s) noexcept  // NOLINT
      : data_(s.data()), size_(s.size()) {}
  ByteView(std::string_view s) noexcept  // NOLINT
      : data_(reinterpret_cast<const std::uint8_t *>(s.data())), size_(s.size()) {}
  ByteView(const std::string &s) noexcept  // NOLINT
      : ByteView(std::string_view(s)) {}
  // A NUL-terminated text message; the terminator is not included.
  ByteView(const char *s) noexcept  // NOLINT
      : ByteView(s != nullptr ? std::string_view(s) : std::string_view()) {}

  constexpr const std::uint8_t *data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }

 private:
  const std::uint8_t *data_ = nullptr;
  std::size_t size_ = 0;
};

// ---- Library-wide functions -------------------------------------------------

inline std::string version() { return pqc_version(); }
inline int abi_version() noexcept { return pqc_abi_version(); }

// Throws AbiMismatch when the loaded library was built for another ABI than
// this header; call once at start-up.
inline void ensure_abi() {
  int lib = pqc_abi_version();
  if (lib != PQC_IIOT_ABI_VERSION) {
    throw AbiMismatch(PQC_ERR_UNSUPPORTED,
                      "pqc_iiot: header ABI " + std::to_string(PQC_IIOT_ABI_VERSION) +
                          " but library ABI " + std::to_string(lib) + " (library " +
                          pqc_version() + ", header " + PQC_IIOT_VERSION_STRING + ")");
  }
}

inline std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  detail::check(pqc_random_bytes(out.data(), out.size()), "pqc_random_bytes");
  return out;
}

inline std::string status_name(int status) { return pqc_strerror(status); }

struct KeyPair {
  std::vector<std::uint8_t> public_key;
  SecretBytes secret_key;
};

// ---- Key encapsulation -------------------------------------------------------

class Kem {
 public:
  struct Encapsulation {
    std::vector<std::uint8_t> ciphertext;
    SecretBytes shared_secret;
  };

  // Throws Unsupported for an unknown name (matched case-insensitively).
  explicit Kem(const std::string &algorithm) {
    detail::check(pqc_kem_new(algorithm.c_str(), &handle_), "pqc_kem_new");
    // Cached: the sizes are fixed per algorithm, and each query crosses into
    // the Go runtime.
    public_key_size_ = pqc_kem_public_key_size(handle_);
    secret_key_size_ = pqc_kem_secret_key_size(handle_);
    ciphertext_size_ = pqc_kem_ciphertext_size(handle_);
    shared_secret_size_ = pqc_kem_shared_secret_size(handle_);
    seed_size_ = pqc_kem_seed_size(handle_);
  }
  Kem(const Kem &) = delete;
  Kem &operator=(const Kem &) = delete;
  Kem(Kem &&other) noexcept { take(other); }
  Kem &operator=(Kem &&other) noexcept {
    if (this != &other) {
      pqc_kem_free(handle_);
      take(other);
    }
    return *this;
  }
  ~Kem() { pqc_kem_free(handle_); }

  static std::vector<std::string> algorithms() {
    std::vector<std::string> names;
    std::size_t n = pqc_kem_algorithm_count();
    for (std::size_t i = 0; i < n; i++) {
      names.emplace_back(pqc_kem_algorithm_name(i));
    }
    return names;
  }

  // The canonical name, e.g. "ML-KEM-768" for "ml-kem-768".
  std::string name() const {
    const char *n = pqc_kem_algorithm(handle_);
    if (n == nullptr) {
      detail::throw_status(PQC_ERR_CLOSED, "pqc_kem_algorithm");
    }
    return n;
  }
  std::size_t public_key_size() const { return detail::check_size(public_key_size_, "Kem"); }
  std::size_t secret_key_size() const { return detail::check_size(secret_key_size_, "Kem"); }
  std::size_t ciphertext_size() const { return detail::check_size(ciphertext_size_, "Kem"); }
  std::size_t shared_secret_size() const {
    return detail::check_size(shared_secret_size_, "Kem");
  }
  std::size_t seed_size() const { return detail::check_size(seed_size_, "Kem"); }

  KeyPair keypair() const {
    KeyPair kp{std::vector<std::uint8_t>(public_key_size_), SecretBytes(secret_key_size_)};
    detail::check(pqc_kem_keypair(handle_, kp.public_key.data(), kp.public_key.size(),
                                  kp.secret_key.data(), kp.secret_key.size()),
                  "pqc_kem_keypair");
    return kp;
  }

  // Deterministic key pair from seed_size() bytes.
  KeyPair keypair_from_seed(ByteView seed) const {
    KeyPair kp{std::vector<std::uint8_t>(public_key_size_), SecretBytes(secret_key_size_)};
    detail::check(pqc_kem_keypair_from_seed(handle_, seed.data(), seed.size(),
                                            kp.public_key.data(), kp.public_key.size(),
                                            kp.secret_key.data(), kp.secret_key.size()),
                  "pqc_kem_keypair_from_seed");
    return kp;
  }

  Encapsulation encapsulate(ByteView public_key) const {
    Encapsulation e{std::vector<std::uint8_t>(ciphertext_size_),
                    SecretBytes(shared_secret_size_)};
    detail::check(pqc_kem_encapsulate(handle_, public_key.data(), public_key.size(),
                                      e.ciphertext.data(), e.ciphertext.size(),
                                      e.shared_secret.data(), e.shared_secret.size()),
                  "pqc_kem_encapsulate");
    return e;
  }

  // A tampered ciphertext does not throw: it yields the scheme's implicit-
  // rejection secret, which will not match the sender's.
  SecretBytes decapsulate(ByteView secret_key, ByteView ciphertext) const {
    SecretBytes ss(shared_secret_size_);
    detail::check(pqc_kem_decapsulate(handle_, secret_key.data(), secret_key.size(),
                                      ciphertext.data(), ciphertext.size(), ss.data(),
                                      ss.size()),
                  "pqc_kem_decapsulate");
    return ss;
  }

  // The C handle, still owned by this object.
  const pqc_kem *native_handle() const noexcept { return handle_; }

 private:
  void take(Kem &other) noexcept {
    handle_ = std::exchange(other.handle_, nullptr);
    public_key_size_ = std::exchange(other.public_key_size_, 0);
    secret_key_size_ = std::exchange(other.secret_key_size_, 0);
    ciphertext_size_ = std::exchange(other.ciphertext_size_, 0);
    shared_secret_size_ = std::exchange(other.shared_secret_size_, 0);
    seed_size_ = std::exchange(other.seed_size_, 0);
  }

  pqc_kem *handle_ = nullptr;
  std::size_t public_key_size_ = 0;
  std::size_t secret_key_size_ = 0;
  std::size_t ciphertext_size_ = 0;
  std::size_t shared_secret_size_ = 0;
  std::size_t seed_size_ = 0;
};

// ---- Signatures -----------------------------------------------------------------

class Signature {
 public:
  explicit Signature(const std::string &algorithm) {
    detail::check(pqc_sig_new(algorithm.c_str(), &handle_), "pqc_sig_new");
    public_key_size_ = pqc_sig_public_key_size(handle_);
    secret_key_size_ = pqc_sig_secret_key_size(handle_);
    signature_max_size_ = pqc_sig_signature_max_size(handle_);
    seed_size_ = pqc_sig_seed_size(handle_);
  }
  Signature(const Signature &) = delete;
  Signature &operator=(const Signature &) = delete;
  Signature(Signature &&other) noexcept { take(other); }
  Signature &operator=(Signature &&other) noexcept {
    if (this != &other) {
      pqc_sig_free(handle_);
      take(other);
    }
    return *this;
  }
  ~Signature() { pqc_sig_free(handle_); }

  static std::vector<std::string> algorithms() {
    std::vector<std::string> names;
    std::size_t n = pqc_sig_algorithm_count();
    for (std::size_t i = 0; i < n; i++) {
      names.emplace_back(pqc_sig_algorithm_name(i));
    }
    return names;
  }

  std::string name() const {
    const char *n = pqc_sig_algorithm(handle_);
    if (n == nullptr) {
      detail::throw_status(PQC_ERR_CLOSED, "pqc_sig_algorithm");
    }
    return n;
  }
  std::size_t public_key_size() const {
    return detail::check_size(public_key_size_, "Signature");
  }
  std::size_t secret_key_size() const {
    return detail::check_size(secret_key_size_, "Signature");
  }
  // Upper bound; Falcon's signatures are usually shorter.
  std::size_t signature_max_size() const {
    return detail::check_size(signature_max_size_, "Signature");
  }
  std::size_t seed_size() const { return detail::check_size(seed_size_, "Signature"); }

  KeyPair keypair() const {
    KeyPair kp{std::vector<std::uint8_t>(public_key_size_), SecretBytes(secret_key_size_)};
    detail::check(pqc_sig_keypair(handle_, kp.public_key.data(), kp.public_key.size(),
                                  kp.secret_key.data(), kp.secret_key.size()),
                  "pqc_sig_keypair");
    return kp;
  }

  KeyPair keypair_from_seed(ByteView seed) const {
    KeyPair kp{std::vector<std::uint8_t>(public_key_size_), SecretBytes(secret_key_size_)};
    detail::check(pqc_sig_keypair_from_seed(handle_, seed.data(), seed.size(),
                                            kp.public_key.data(), kp.public_key.size(),
                                            kp.secret_key.data(), kp.secret_key.size()),
                  "pqc_sig_keypair_from_seed");
    return kp;
  }

  // The signature, trimmed to its actual length.
  std::vector<std::uint8_t> sign(ByteView secret_key, ByteView message) const {
    std::vector<std::uint8_t> sig(signature_max_size_);
    std::size_t len = 0;
    detail::check(pqc_sig_sign(handle_, secret_key.data(), secret_key.size(), message.data(),
                               message.size(), sig.data(), sig.size(), &len),
                  "pqc_sig_sign");
    sig.resize(len);
    return sig;
  }

  // false when the signature does not verify; throws for anything else
  // (wrong-length public key, closed handle, ...).
  bool verify(ByteView public_key, ByteView message, ByteView signature) const {
    int st = pqc_sig_verify(handle_, public_key.data(), public_key.size(), message.data(),
                            message.size(), signature.data(), signature.size());
    if (st == PQC_ERR_VERIFY) {
      return false;
    }
    detail::check(st, "pqc_sig_verify");
    return true;
  }

  const pqc_sig *native_handle() const noexcept { return handle_; }

 private:
  void take(Signature &other) noexcept {
    handle_ = std::exchange(other.handle_, nullptr);
    public_key_size_ = std::exchange(other.public_key_size_, 0);
    secret_key_size_ = std::exchange(other.secret_key_size_, 0);
    signature_max_size_ = std::exchange(other.signature_max_size_, 0);
    seed_size_ = std::exchange(other.seed_size_, 0);
  }

  pqc_sig *handle_ = nullptr;
  std::size_t public_key_size_ = 0;
  std::size_t secret_key_size_ = 0;
  std::size_t signature_max_size_ = 0;
  std::size_t seed_size_ = 0;
};

// ---- Identity, trust and CA ---------------------------------------------------
//
// Keystores are files encrypted under a passphrase (stretched with Argon2id)
// or a raw 32-byte key; secret keys never leave them. Exchanged objects
// (requests, chains, policies, revocation lists) are opaque byte vectors.

enum class KeyKind : int {
  passphrase = PQC_KEYSTORE_PASSPHRASE,
  raw_key = PQC_KEYSTORE_RAW_KEY,
};

using KeyId = std::array<std::uint8_t, PQC_KEY_ID_BYTES>;

namespace detail {

// Runs a variable-output call into a buffer of the documented maximum (the
// library requires it up front for irreversible calls, and it is always
// enough) and trims the result.
template <typename Call>
std::vector<std::uint8_t> object_output(Call &&call, const char *operation,
                                        std::size_t cap = PQC_OBJECT_MAX_BYTES) {
  std::vector<std::uint8_t> out(cap);
  std::size_t len = 0;
  check(call(out.data(), out.size(), &len), operation);
  out.resize(len);
  out.shrink_to_fit();
  return out;
}

inline const char *c_str_or_null(const std::string &s) {
  return s.empty() ? nullptr : s.c_str();
}

}  // namespace detail

// A verified signed envelope (Identity::sign, Trust::verify_signed).
struct SignedMessage {
  std::string sender;                 // the device id the chain certifies
  std::vector<std::uint8_t> content;  // the bytes the device signed
  std::int64_t signed_at = 0;         // the signer's clock, Unix seconds
};

// Largest content an envelope may carry (PQC_SIGNED_MAX_CONTENT).
inline std::size_t signed_max_content() noexcept { return pqc_signed_max_content(); }

namespace detail {
// Runs one of the pqc_*_verify_signed functions, whose content is never
// longer than the envelope.
template <typename F>
SignedMessage verify_signed(F call, ByteView envelope, const char *what) {
  SignedMessage m;
  m.content.resize(envelope.size() > 0 ? envelope.size() : 1);
  char sender[PQC_DEVICE_ID_MAX_BYTES] = {0};
  std::size_t n = 0;
  detail::check(call(m.content.data(), m.content.size(), &n, sender, sizeof sender,
                     &m.signed_at),
                what);
  m.content.resize(n);
  m.sender = sender;
  return m;
}
}  // namespace detail

class Identity {
 public:
  // Creates a keystore at path (which must not exist). Empty algorithm
  // arguments select the library defaults.
  static Identity create(const std::string &path, KeyKind kind, ByteView key,
                         const std::string &device_id, const std::string &factory_alg = "",
                         const std::string &sig_alg = "", const std::string &kem_algs = "") {
    Identity id;
    detail::check(pqc_identity_create(path.c_str(), static_cast<int>(kind), key.data(),
                                      key.size(), device_id.c_str(),
                                      detail::c_str_or_null(factory_alg),
                                      detail::c_str_or_null(sig_alg),
                                      detail::c_str_or_null(kem_algs), &id.handle_),
                  "pqc_identity_create");
    return id;
  }
  static Identity open(const std::string &path, KeyKind kind, ByteView key) {
    Identity id;
    detail::check(pqc_identity_open(path.c_str(), static_cast<int>(kind), key.data(),
                                    key.size(), &id.handle_),
                  "pqc_identity_open");
    return id;
  }
  Identity(const Identity &) = delete;
  Identity &operator=(const Identity &) = delete;
  Identity(Identity &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Identity &operator=(Identity &&other) noexcept {
    if (this != &other) {
      pqc_identity_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  // Closes the keystore; the library wipes the keys it held.
  ~Identity() { pqc_identity_free(handle_); }

  std::string device_id() const {
    char buf[512];
    std::size_t len = 0;
    int st = pqc_identity_device_id(handle_, buf, sizeof buf, &len);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      std::string big(len, '\0');
      st = pqc_identity_device_id(handle_, &big[0], big.size(), &len);
      detail::check(st, "pqc_identity_device_id");
      big.resize(len > 0 ? len - 1 : 0);
      return big;
    }
    detail::check(st, "pqc_identity_device_id");
    return std::string(buf, len > 0 ? len - 1 : 0);
  }
  std::vector<std::uint8_t> factory_public_key() const {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_factory_public_key(handle_, o, c, l);
        },
        "pqc_identity_factory_public_key");
  }
  // New operational keys (pending) and the join request for the CA.
  std::vector<std::uint8_t> join_request() {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_join_request(handle_, o, c, l);
        },
        "pqc_identity_join_request");
  }
  std::vector<std::uint8_t> renewal_request() {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_renewal_request(handle_, o, c, l);
        },
        "pqc_identity_renewal_request");
  }
  // anchor is required on the first install only.
  void install(ByteView chain, ByteView anchor = ByteView(), std::uint64_t overlap_seconds = 0) {
    detail::check(pqc_identity_install(handle_, chain.data(), chain.size(), anchor.data(),
                                       anchor.size(), overlap_seconds),
                  "pqc_identity_install");
  }
  std::vector<std::uint8_t> chain() const {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_chain(handle_, o, c, l);
        },
        "pqc_identity_chain");
  }
  std::uint64_t epoch() const {
    std::uint64_t e = 0;
    detail::check(pqc_identity_epoch(handle_, &e), "pqc_identity_epoch");
    return e;
  }
  KeyId key_id() const {
    KeyId id{};
    detail::check(pqc_identity_key_id(handle_, id.data(), id.size()), "pqc_identity_key_id");
    return id;
  }
  // The certified signature key (empty alg) or the key of the named scheme.
  std::vector<std::uint8_t> public_key(const std::string &alg = "") const {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_public_key(handle_, detail::c_str_or_null(alg), o, c, l);
        },
        "pqc_identity_public_key");
  }
  std::vector<std::uint8_t> announcement(const std::string &topic) {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_announcement(handle_, topic.c_str(), o, c, l);
        },
        "pqc_identity_announcement");
  }
  // A signed envelope of msg for context (a topic, a path), verifiable by
  // anyone with the fleet's anchor.
  std::vector<std::uint8_t> sign(const std::string &context, ByteView msg) {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_identity_sign(handle_, context.c_str(), msg.data(), msg.size(), o, c, l);
        },
        "pqc_identity_sign");
  }
  // Checks an envelope against this identity's trust state; throws
  // VerifyFailed, Untrusted, Revoked, Expired, PolicyError otherwise.
  SignedMessage verify_signed(ByteView envelope, const std::string &context) {
    return detail::verify_signed(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l, char *s, std::size_t sc,
            std::int64_t *at) {
          return pqc_identity_verify_signed(handle_, envelope.data(), envelope.size(),
                                            context.c_str(), o, c, l, s, sc, at);
        },
        envelope, "pqc_identity_verify_signed");
  }
  void apply_policy(ByteView policy) {
    detail::check(pqc_identity_apply_policy(handle_, policy.data(), policy.size()),
                  "pqc_identity_apply_policy");
  }
  void apply_revocation(ByteView list) {
    detail::check(pqc_identity_apply_revocation(handle_, list.data(), list.size()),
                  "pqc_identity_apply_revocation");
  }
  bool rotation_due(std::uint64_t interval_seconds) const {
    int due = 0;
    detail::check(pqc_identity_rotation_due(handle_, interval_seconds, &due),
                  "pqc_identity_rotation_due");
    return due != 0;
  }
  // true if the previous epoch's keys were destroyed now.
  bool prune() {
    int pruned = 0;
    detail::check(pqc_identity_prune(handle_, &pruned), "pqc_identity_prune");
    return pruned != 0;
  }

  pqc_identity *native_handle() const noexcept { return handle_; }

 private:
  Identity() = default;
  pqc_identity *handle_ = nullptr;
};

// Verification state for a party without an identity of its own.
class Trust {
 public:
  explicit Trust(ByteView anchor) {
    detail::check(pqc_trust_new(anchor.data(), anchor.size(), &handle_), "pqc_trust_new");
  }
  Trust(const Trust &) = delete;
  Trust &operator=(const Trust &) = delete;
  Trust(Trust &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Trust &operator=(Trust &&other) noexcept {
    if (this != &other) {
      pqc_trust_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Trust() { pqc_trust_free(handle_); }

  void apply_policy(ByteView policy) {
    detail::check(pqc_trust_apply_policy(handle_, policy.data(), policy.size()),
                  "pqc_trust_apply_policy");
  }
  void apply_revocation(ByteView list) {
    detail::check(pqc_trust_apply_revocation(handle_, list.data(), list.size()),
                  "pqc_trust_apply_revocation");
  }
  // false when no fresh policy (or the revocation list it demands) is
  // installed; throws for anything else.
  bool policy_current() const {
    int st = pqc_trust_check_policy(handle_);
    if (st == PQC_ERR_POLICY) {
      return false;
    }
    detail::check(st, "pqc_trust_check_policy");
    return true;
  }
  // The device id the chain certifies; throws Untrusted, Expired, Revoked,
  // VerifyFailed, PolicyError or InvalidArgument otherwise. at_unix 0 = now.
  std::string verify_chain(ByteView chain, std::int64_t at_unix = 0) const {
    char buf[512];
    std::size_t len = 0;
    int st = pqc_trust_verify_chain(handle_, chain.data(), chain.size(), at_unix, buf,
                                    sizeof buf, &len);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      std::string big(len, '\0');
      st = pqc_trust_verify_chain(handle_, chain.data(), chain.size(), at_unix, &big[0],
                                  big.size(), &len);
      detail::check(st, "pqc_trust_verify_chain");
      big.resize(len > 0 ? len - 1 : 0);
      return big;
    }
    detail::check(st, "pqc_trust_verify_chain");
    return std::string(buf, len > 0 ? len - 1 : 0);
  }

  // Checks a signed envelope received on context against the anchor,
  // policy and revocation list; the sender is the certified device id.
  SignedMessage verify_signed(ByteView envelope, const std::string &context) const {
    return detail::verify_signed(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l, char *s, std::size_t sc,
            std::int64_t *at) {
          return pqc_trust_verify_signed(handle_, envelope.data(), envelope.size(),
                                         context.c_str(), o, c, l, s, sc, at);
        },
        envelope, "pqc_trust_verify_signed");
  }

  pqc_trust *native_handle() const noexcept { return handle_; }

 private:
  pqc_trust *handle_ = nullptr;
};

struct PolicyOptions {
  std::uint64_t ttl_seconds = 86400;
  std::string allowed_kems;  // comma-separated; empty = library default
  std::string allowed_sigs;  // comma-separated; empty = library default
  std::uint64_t rekey_messages = 0;
  std::uint64_t rekey_seconds = 0;
  bool require_sessions = false;
};

// A root CA in its own keystore, for provisioning tools.
class Ca {
 public:
  static Ca create(const std::string &path, KeyKind kind, ByteView key, const std::string &name,
                   std::uint64_t validity_seconds, const std::string &alg = "") {
    Ca ca;
    detail::check(pqc_ca_create(path.c_str(), static_cast<int>(kind), key.data(), key.size(),
                                name.c_str(), detail::c_str_or_null(alg), validity_seconds,
                                &ca.handle_),
                  "pqc_ca_create");
    return ca;
  }
  static Ca open(const std::string &path, KeyKind kind, ByteView key) {
    Ca ca;
    detail::check(pqc_ca_open(path.c_str(), static_cast<int>(kind), key.data(), key.size(),
                              &ca.handle_),
                  "pqc_ca_open");
    return ca;
  }
  Ca(const Ca &) = delete;
  Ca &operator=(const Ca &) = delete;
  Ca(Ca &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Ca &operator=(Ca &&other) noexcept {
    if (this != &other) {
      pqc_ca_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Ca() { pqc_ca_free(handle_); }

  // The trust anchor devices and verifiers need.
  std::vector<std::uint8_t> certificate() const {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_ca_certificate(handle_, o, c, l);
        },
        "pqc_ca_certificate");
  }
  // roles: comma-separated, empty for none.
  void allow(const std::string &device_id, ByteView factory_key, const std::string &roles = "") {
    detail::check(pqc_ca_allow(handle_, device_id.c_str(), factory_key.data(),
                               factory_key.size(), detail::c_str_or_null(roles)),
                  "pqc_ca_allow");
  }
  // allow() with MQTT topic grants in the device's certificate: publish and
  // subscribe are comma-separated topic filters, empty for none.
  void allow_topics(const std::string &device_id, ByteView factory_key,
                    const std::string &publish, const std::string &subscribe,
                    const std::string &roles = "") {
    detail::check(pqc_ca_allow_topics(handle_, device_id.c_str(), factory_key.data(),
                                      factory_key.size(), detail::c_str_or_null(roles),
                                      detail::c_str_or_null(publish),
                                      detail::c_str_or_null(subscribe)),
                  "pqc_ca_allow_topics");
  }
  // The chain for a join or renewal request.
  std::vector<std::uint8_t> enroll(ByteView request, std::uint64_t validity_seconds) {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_ca_enroll(handle_, request.data(), request.size(), validity_seconds, o, c,
                               l);
        },
        "pqc_ca_enroll");
  }
  std::vector<std::uint8_t> sign_policy(const PolicyOptions &p) {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_ca_sign_policy(handle_, p.ttl_seconds,
                                    detail::c_str_or_null(p.allowed_kems),
                                    detail::c_str_or_null(p.allowed_sigs), p.rekey_messages,
                                    p.rekey_seconds, p.require_sessions ? 1 : 0, o, c, l);
        },
        "pqc_ca_sign_policy");
  }
  // Adds key_ids to the cumulative list and returns the whole signed list.
  std::vector<std::uint8_t> revoke(const std::vector<KeyId> &key_ids) {
    std::vector<std::uint8_t> flat;
    flat.reserve(key_ids.size() * PQC_KEY_ID_BYTES);
    for (const auto &k : key_ids) {
      flat.insert(flat.end(), k.begin(), k.end());
    }
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_ca_revoke(handle_, flat.empty() ? nullptr : flat.data(), key_ids.size(),
                               o, c, l);
        },
        "pqc_ca_revoke", PQC_REVOCATION_MAX_BYTES);
  }

  pqc_ca *native_handle() const noexcept { return handle_; }

 private:
  Ca() = default;
  pqc_ca *handle_ = nullptr;
};

// ---- Sessions and sealed messages -----------------------------------------

using SessionId = std::array<std::uint8_t, PQC_SESSION_ID_BYTES>;

// Frames or plaintexts of a batch, back to back in one buffer. status(i) is
// PQC_OK or the status of item i (unprotect); a failed item has no bytes.
class BatchResult {
 public:
  std::size_t size() const noexcept { return lengths_.size(); }
  ByteView operator[](std::size_t i) const {
    return ByteView(bytes_.data() + offsets_.at(i), lengths_.at(i));
  }
  int status(std::size_t i) const { return statuses_.at(i); }
  bool ok(std::size_t i) const { return statuses_.at(i) == PQC_OK; }
  // Views of every item, e.g. to hand protect_batch's frames to
  // unprotect_batch; valid while this object lives.
  std::vector<ByteView> views() const {
    std::vector<ByteView> v;
    v.reserve(size());
    for (std::size_t i = 0; i < size(); i++) {
      v.push_back((*this)[i]);
    }
    return v;
  }
  const std::vector<std::uint8_t> &bytes() const noexcept { return bytes_; }

 private:
  friend class Session;
  void index() {
    offsets_.resize(lengths_.size());
    std::size_t off = 0;
    for (std::size_t i = 0; i < lengths_.size(); i++) {
      offsets_[i] = off;
      off += lengths_[i];
    }
  }
  std::vector<std::uint8_t> bytes_;
  std::vector<std::size_t> lengths_, offsets_;
  std::vector<int> statuses_;
};

namespace detail {
// Splits views into the pointer and length arrays the C batch calls take.
inline std::size_t batch_arrays(const std::vector<ByteView> &in,
                                std::vector<const std::uint8_t *> &ptrs,
                                std::vector<std::size_t> &lens) {
  std::size_t total = 0;
  ptrs.resize(in.size());
  lens.resize(in.size());
  for (std::size_t i = 0; i < in.size(); i++) {
    ptrs[i] = in[i].data();
    lens[i] = in[i].size();
    total += in[i].size();
  }
  return total;
}
}  // namespace detail

// An established session. Released (not ended) when destroyed: the
// session stays with its manager until close() or the manager goes.
class Session {
 public:
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  Session(Session &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Session &operator=(Session &&other) noexcept {
    if (this != &other) {
      pqc_session_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Session() { pqc_session_free(handle_); }

  // Bytes a frame adds to its plaintext at most.
  static std::size_t frame_overhead_max() noexcept { return pqc_session_frame_overhead_max(); }

  SessionId id() const {
    SessionId id{};
    detail::check(pqc_session_id(handle_, id.data(), id.size()), "pqc_session_id");
    return id;
  }
  std::string peer_id() const {
    char buf[PQC_DEVICE_ID_MAX_BYTES];
    std::size_t len = 0;
    detail::check(pqc_session_peer_id(handle_, buf, sizeof buf, &len), "pqc_session_peer_id");
    return std::string(buf, len > 0 ? len - 1 : 0);
  }
  // The peer asked for a reply so the ratchet can step: send something.
  bool needs_reply() const {
    int needs = 0;
    detail::check(pqc_session_needs_reply(handle_, &needs), "pqc_session_needs_reply");
    return needs != 0;
  }
  void save() { detail::check(pqc_session_save(handle_), "pqc_session_save"); }
  // Ends the session for good; later calls throw Closed.
  void close() { detail::check(pqc_session_close(handle_), "pqc_session_close"); }

  std::vector<std::uint8_t> protect(ByteView plaintext) {
    std::vector<std::uint8_t> out(plaintext.size() + frame_overhead_max());
    std::size_t len = 0;
    detail::check(pqc_session_protect(handle_, plaintext.data(), plaintext.size(), out.data(),
                                      out.size(), &len),
                  "pqc_session_protect");
    out.resize(len);
    return out;
  }
  // Throws VerifyFailed for a forged frame, Replay for one seen before.
  std::vector<std::uint8_t> unprotect(ByteView frame) {
    std::vector<std::uint8_t> out(frame.size());
    std::size_t len = 0;
    detail::check(pqc_session_unprotect(handle_, frame.data(), frame.size(), out.data(),
                                        out.size(), &len),
                  "pqc_session_unprotect");
    out.resize(len);
    return out;
  }
  // Frames for msgs, in order, made under one lock. If message i fails,
  // the frames before it were made and are returned (size() == i; they
  // must be sent); only when none was made does it throw.
  BatchResult protect_batch(const std::vector<ByteView> &msgs) {
    std::vector<const std::uint8_t *> ptrs;
    BatchResult r;
    std::vector<std::size_t> lens;
    std::size_t total = detail::batch_arrays(msgs, ptrs, lens);
    r.bytes_.resize(total + msgs.size() * frame_overhead_max());
    r.lengths_.resize(msgs.size());
    std::size_t len = 0;
    int st = pqc_session_protect_batch(handle_, ptrs.data(), lens.data(), msgs.size(),
                                       r.bytes_.data(), r.bytes_.size(), r.lengths_.data(),
                                       &len);
    std::size_t made = 0;
    while (made < r.lengths_.size() && r.lengths_[made] > 0) {
      made++;
    }
    if (st != PQC_OK && made == 0) {
      detail::throw_status(st, "pqc_session_protect_batch");
    }
    r.lengths_.resize(made);
    r.bytes_.resize(len);
    r.statuses_.assign(made, PQC_OK);
    r.index();
    return r;
  }
  // Plaintexts of frames, in order; a failed frame does not stop the
  // others: check ok(i) / status(i).
  BatchResult unprotect_batch(const std::vector<ByteView> &frames) {
    std::vector<const std::uint8_t *> ptrs;
    BatchResult r;
    std::vector<std::size_t> lens;
    std::size_t total = detail::batch_arrays(frames, ptrs, lens);
    r.bytes_.resize(total);
    r.lengths_.resize(frames.size());
    r.statuses_.resize(frames.size());
    std::size_t len = 0;
    detail::check(pqc_session_unprotect_batch(handle_, ptrs.data(), lens.data(), frames.size(),
                                              r.bytes_.data(), r.bytes_.size(),
                                              r.lengths_.data(), r.statuses_.data(), &len),
                  "pqc_session_unprotect_batch");
    r.bytes_.resize(len);
    r.index();
    return r;
  }

  pqc_session *native_handle() const noexcept { return handle_; }

 private:
  friend class SessionManager;
  explicit Session(pqc_session *h) noexcept : handle_(h) {}
  pqc_session *handle_ = nullptr;
};

// Runs handshakes and holds the sessions of one identity, which must
// outlive it. Also seals and opens one-shot messages.
class SessionManager {
 public:
  struct Handshake {
    std::vector<std::uint8_t> reply;  // send it when not empty
    std::optional<Session> session;   // set once per new session
  };
  struct Routed {
    SessionId session_id;
    std::vector<std::uint8_t> plaintext;
  };
  struct Opened {
    std::string sender;
    std::vector<std::uint8_t> plaintext;
  };

  // resume: keep sessions across restarts (see resumed()).
  explicit SessionManager(Identity &id, bool resume = false) {
    detail::check(pqc_session_manager_new(id.native_handle(), resume ? PQC_SESSION_RESUME : 0u,
                                          &handle_),
                  "pqc_session_manager_new");
  }
  SessionManager(const SessionManager &) = delete;
  SessionManager &operator=(const SessionManager &) = delete;
  SessionManager(SessionManager &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  SessionManager &operator=(SessionManager &&other) noexcept {
    if (this != &other) {
      pqc_session_manager_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~SessionManager() { pqc_session_manager_free(handle_); }

  static std::size_t seal_overhead_max() noexcept { return pqc_seal_overhead_max(); }

  // Verifies a peer's chain, records its keys, returns its device id.
  std::string add_peer(ByteView chain) {
    char buf[PQC_DEVICE_ID_MAX_BYTES];
    std::size_t len = 0;
    detail::check(pqc_session_manager_add_peer(handle_, chain.data(), chain.size(), buf,
                                               sizeof buf, &len),
                  "pqc_session_manager_add_peer");
    return std::string(buf, len > 0 ? len - 1 : 0);
  }
  void accept_announcement(ByteView announcement, const std::string &topic) {
    detail::check(pqc_session_manager_accept_announcement(handle_, announcement.data(),
                                                          announcement.size(), topic.c_str()),
                  "pqc_session_manager_accept_announcement");
  }
  void enforce_policy() {
    detail::check(pqc_session_manager_enforce_policy(handle_),
                  "pqc_session_manager_enforce_policy");
  }
  std::vector<SessionId> resumed() const {
    std::vector<std::uint8_t> raw(64 * PQC_SESSION_ID_BYTES);
    std::size_t len = 0;
    int st = pqc_session_manager_resumed(handle_, raw.data(), raw.size(), &len);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      raw.resize(len);
      st = pqc_session_manager_resumed(handle_, raw.data(), raw.size(), &len);
    }
    detail::check(st, "pqc_session_manager_resumed");
    std::vector<SessionId> ids(len / PQC_SESSION_ID_BYTES);
    for (std::size_t i = 0; i < ids.size(); i++) {
      std::copy_n(raw.begin() + static_cast<std::ptrdiff_t>(i * PQC_SESSION_ID_BYTES),
                  PQC_SESSION_ID_BYTES, ids[i].begin());
    }
    return ids;
  }
  // Another Session object for an established session (e.g. one resumed
  // after a restart); each object releases its own handle.
  Session find(const SessionId &id) {
    pqc_session *s = nullptr;
    detail::check(pqc_session_manager_find(handle_, id.data(), id.size(), &s),
                  "pqc_session_manager_find");
    return Session(s);
  }
  // The Init frame to send to peer_id; context binds the session.
  std::vector<std::uint8_t> initiate(const std::string &peer_id, const std::string &context) {
    return detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_session_initiate(handle_, peer_id.c_str(), context.c_str(), o, c, l);
        },
        "pqc_session_initiate", PQC_HANDSHAKE_MAX_BYTES);
  }
  Handshake handle_handshake(ByteView frame) {
    Handshake h;
    pqc_session *s = nullptr;
    h.reply = detail::object_output(
        [&](std::uint8_t *o, std::size_t c, std::size_t *l) {
          return pqc_session_handle_handshake(handle_, frame.data(), frame.size(), o, c, l, &s);
        },
        "pqc_session_handle_handshake", PQC_HANDSHAKE_MAX_BYTES);
    if (s != nullptr) {
      h.session.emplace(Session(s));
    }
    return h;
  }
  // A data frame received on context, routed to its session by id.
  Routed unprotect(ByteView frame, const std::string &context) {
    Routed r{};
    r.plaintext.resize(frame.size());
    std::size_t len = 0;
    detail::check(pqc_session_manager_unprotect(handle_, frame.data(), frame.size(),
                                                context.c_str(), r.plaintext.data(),
                                                r.plaintext.size(), &len, r.session_id.data()),
                  "pqc_session_manager_unprotect");
    r.plaintext.resize(len);
    return r;
  }
  std::vector<std::uint8_t> seal(const std::string &recipient_id, const std::string &context,
                                 ByteView plaintext) {
    std::vector<std::uint8_t> out(plaintext.size() + seal_overhead_max());
    std::size_t len = 0;
    detail::check(pqc_seal(handle_, recipient_id.c_str(), context.c_str(), plaintext.data(),
                           plaintext.size(), out.data(), out.size(), &len),
                  "pqc_seal");
    out.resize(len);
    return out;
  }
  Opened open(ByteView frame, const std::string &context) {
    Opened o;
    char sender[PQC_DEVICE_ID_MAX_BYTES] = {0};
    o.plaintext.resize(frame.size());
    std::size_t len = 0;
    detail::check(pqc_open(handle_, frame.data(), frame.size(), context.c_str(),
                           o.plaintext.data(), o.plaintext.size(), &len, sender, sizeof sender),
                  "pqc_open");
    o.plaintext.resize(len);
    o.sender = sender;
    return o;
  }

  pqc_session_manager *native_handle() const noexcept { return handle_; }

 private:
  pqc_session_manager *handle_ = nullptr;
};

// ---- MQTT ---------------------------------------------------------------------
//
//   pqc_iiot::MqttClient client(identity, "tcp://broker:1883");
//   client.subscribe("plant/#");
//   client.connect();
//   while (auto m = client.recv(1000)) { use(m->sender, m->payload); }
//
// m->sender is the device id the library authenticated, never a claim.

enum class MqttMode : std::uint32_t {
  automatic = PQC_MQTT_MODE_AUTO,
  sealed = PQC_MQTT_MODE_SEALED,
  sessions = PQC_MQTT_MODE_SESSIONS,
};

// Empty strings and zeros select the library defaults.
struct MqttOptions {
  MqttMode mode = MqttMode::automatic;
  std::string client_id, username, password;
  std::string recipients;  // comma-separated; empty: from certificates
  bool qos0 = false;
  bool clean_session = false;
  std::uint32_t keepalive_seconds = 0;
  std::uint32_t connect_timeout_ms = 0;
  std::uint32_t queue_size = 0;
  // TLS to the broker (ssl:// and similar URLs only): the CA bundle that
  // verifies it (empty: the system's roots), an optional client
  // certificate and key, the name to verify (empty: the URL's host).
  std::string tls_ca_file, tls_cert_file, tls_key_file, tls_server_name;
};

struct MqttMessage {
  std::string topic;
  std::string sender;  // authenticated device id
  std::vector<std::uint8_t> payload;

  std::string text() const { return std::string(payload.begin(), payload.end()); }
};

using MqttStats = pqc_mqtt_stats_t;

// An in-process broker for demos and tests (not for production).
class MqttBroker {
 public:
  explicit MqttBroker(const std::string &addr = "") {
    detail::check(pqc_mqtt_broker_new(detail::c_str_or_null(addr), &handle_),
                  "pqc_mqtt_broker_new");
  }
  MqttBroker(const MqttBroker &) = delete;
  MqttBroker &operator=(const MqttBroker &) = delete;
  MqttBroker(MqttBroker &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  MqttBroker &operator=(MqttBroker &&other) noexcept {
    if (this != &other) {
      pqc_mqtt_broker_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~MqttBroker() { pqc_mqtt_broker_free(handle_); }

  std::string url() const {
    char buf[256];
    std::size_t len = 0;
    detail::check(pqc_mqtt_broker_url(handle_, buf, sizeof buf, &len), "pqc_mqtt_broker_url");
    return std::string(buf, len > 0 ? len - 1 : 0);
  }
  pqc_mqtt_broker *native_handle() const noexcept { return handle_; }

 private:
  pqc_mqtt_broker *handle_ = nullptr;
};

// A client acting as an identity, which must outlive it. Movable, not
// copyable; every method may be called from any thread.
class MqttClient {
 public:
  using Callback = std::function<void(const MqttMessage &)>;

  MqttClient(const Identity &id, const std::string &broker_url,
             const MqttOptions &options = MqttOptions()) {
    pqc_mqtt_options o{};
    o.struct_size = sizeof o;
    o.mode = static_cast<std::uint32_t>(options.mode);
    o.client_id = detail::c_str_or_null(options.client_id);
    o.username = detail::c_str_or_null(options.username);
    o.password = detail::c_str_or_null(options.password);
    o.recipients = detail::c_str_or_null(options.recipients);
    o.flags = (options.qos0 ? PQC_MQTT_QOS0 : 0u) |
              (options.clean_session ? PQC_MQTT_CLEAN_SESSION : 0u);
    o.keepalive_seconds = options.keepalive_seconds;
    o.connect_timeout_ms = options.connect_timeout_ms;
    o.queue_size = options.queue_size;
    o.tls_ca_file = detail::c_str_or_null(options.tls_ca_file);
    o.tls_cert_file = detail::c_str_or_null(options.tls_cert_file);
    o.tls_key_file = detail::c_str_or_null(options.tls_key_file);
    o.tls_server_name = detail::c_str_or_null(options.tls_server_name);
    detail::check(pqc_mqtt_new(id.native_handle(), broker_url.c_str(), &o, &handle_),
                  "pqc_mqtt_new");
  }
  MqttClient(const MqttClient &) = delete;
  MqttClient &operator=(const MqttClient &) = delete;
  MqttClient(MqttClient &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), callback_(std::move(other.callback_)) {}
  MqttClient &operator=(MqttClient &&other) noexcept {
    if (this != &other) {
      pqc_mqtt_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
      callback_ = std::move(other.callback_);
    }
    return *this;
  }
  // Freeing waits for a running callback, so callback_ outlives its use.
  ~MqttClient() { pqc_mqtt_free(handle_); }

  // timeout_ms 0: the connect timeout option; negative: no limit.
  void connect(int timeout_ms = 0) {
    detail::check(pqc_mqtt_connect(handle_, timeout_ms), "pqc_mqtt_connect");
  }
  void publish(const std::string &topic, ByteView payload, int timeout_ms = 0) {
    detail::check(pqc_mqtt_publish(handle_, topic.c_str(), payload.data(), payload.size(),
                                   timeout_ms),
                  "pqc_mqtt_publish");
  }
  void subscribe(const std::string &filter) {
    detail::check(pqc_mqtt_subscribe(handle_, filter.c_str()), "pqc_mqtt_subscribe");
  }
  // The next verified message, or nullopt when none arrived in time.
  std::optional<MqttMessage> recv(int timeout_ms) {
    char topic[PQC_MQTT_TOPIC_MAX_BYTES];
    char sender[PQC_DEVICE_ID_MAX_BYTES];
    std::vector<std::uint8_t> payload(1024);
    std::size_t len = 0;
    int st = pqc_mqtt_recv(handle_, timeout_ms, topic, sizeof topic, sender, sizeof sender,
                           payload.data(), payload.size(), &len);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      // The message stayed queued; take it with a buffer of its size.
      payload.resize(len);
      st = pqc_mqtt_recv(handle_, 0, topic, sizeof topic, sender, sizeof sender,
                         payload.data(), payload.size(), &len);
    }
    if (st == PQC_ERR_TIMEOUT) {
      return std::nullopt;
    }
    detail::check(st, "pqc_mqtt_recv");
    payload.resize(len);
    return MqttMessage{topic, sender, std::move(payload)};
  }
  // cb runs on a library thread; an exception it throws is swallowed
  // (nothing could catch it there). An empty cb goes back to recv().
  void set_callback(Callback cb) {
    auto next = cb ? std::make_unique<Callback>(std::move(cb)) : nullptr;
    detail::check(pqc_mqtt_set_callback(handle_, next ? &MqttClient::trampoline : nullptr,
                                        next.get()),
                  "pqc_mqtt_set_callback");
    // The library no longer calls the old one once set_callback returned.
    callback_ = std::move(next);
  }
  MqttStats stats() const {
    MqttStats s{};
    s.struct_size = sizeof s;
    detail::check(pqc_mqtt_stats(handle_, &s), "pqc_mqtt_stats");
    return s;
  }
  void close() { detail::check(pqc_mqtt_close(handle_), "pqc_mqtt_close"); }

  static std::size_t options_size() noexcept { return pqc_mqtt_options_size(); }
  static std::size_t stats_size() noexcept { return pqc_mqtt_stats_size(); }

  pqc_mqtt_client *native_handle() const noexcept { return handle_; }

 private:
  static void trampoline(void *user, const char *topic, const char *sender,
                         const std::uint8_t *payload, std::size_t len) {
    try {
      MqttMessage m{topic, sender, std::vector<std::uint8_t>(payload, payload + len)};
      (*static_cast<Callback *>(user))(m);
    } catch (...) {
    }
  }

  pqc_mqtt_client *handle_ = nullptr;
  std::unique_ptr<Callback> callback_;
};

// ---- CoAP -------------------------------------------------------------------

enum class CoapMode : std::uint32_t {
  session = PQC_COAP_MODE_SESSION,
  signed_messages = PQC_COAP_MODE_SIGNED,
  oscore = PQC_COAP_MODE_OSCORE,
  plain = PQC_COAP_MODE_PLAIN,
};

struct CoapOptions {
  CoapMode mode = CoapMode::session;
  std::string peer;  // client: the server's device id
  std::string acl;   // server: "subject methods path" rules, ';'-separated
  bool certificate_grants = false;
  std::uint32_t timeout_ms = 0;
  std::string psk_identity;  // DTLS PSK: both set, or neither
  std::vector<std::uint8_t> psk;
  std::uint32_t ack_timeout_ms = 0;
  std::uint32_t max_retransmit = 0;
  // DTLS with X.509 certificates (PEM files), instead of a PSK.
  std::string dtls_cert_file, dtls_key_file, dtls_ca_file, dtls_server_name;
};

struct CoapRequest {
  std::uint64_t id = 0;  // polling queue only: the id for respond()
  std::uint32_t method = 0;
  std::string path, query;
  std::string sender;  // authenticated device id
  int content_format = PQC_COAP_NO_FORMAT;
  std::vector<std::uint8_t> payload;
  bool observe = false;
};

struct CoapResponse {
  std::uint32_t code = PQC_COAP_CONTENT;
  int content_format = PQC_COAP_NO_FORMAT;
  std::vector<std::uint8_t> payload;
  std::string sender;  // client side: the authenticated responder
};

namespace detail {
inline pqc_coap_options coap_options(const CoapOptions &o) {
  pqc_coap_options c{};
  c.struct_size = sizeof c;
  c.mode = static_cast<std::uint32_t>(o.mode);
  c.flags = o.certificate_grants ? PQC_COAP_CERT_GRANTS : 0u;
  c.timeout_ms = o.timeout_ms;
  c.peer = c_str_or_null(o.peer);
  c.acl = c_str_or_null(o.acl);
  c.dtls_psk_identity = c_str_or_null(o.psk_identity);
  c.dtls_psk = o.psk.empty() ? nullptr : o.psk.data();
  c.dtls_psk_len = o.psk.size();
  c.ack_timeout_ms = o.ack_timeout_ms;
  c.max_retransmit = o.max_retransmit;
  c.dtls_cert_file = c_str_or_null(o.dtls_cert_file);
  c.dtls_key_file = c_str_or_null(o.dtls_key_file);
  c.dtls_ca_file = c_str_or_null(o.dtls_ca_file);
  c.dtls_server_name = c_str_or_null(o.dtls_server_name);
  return c;
}
}  // namespace detail

class CoapServer {
 public:
  using Handler = std::function<CoapResponse(const CoapRequest &)>;

  // Plain mode may run without an identity (pass nullptr).
  explicit CoapServer(const Identity *id, const CoapOptions &options = CoapOptions()) {
    pqc_coap_options o = detail::coap_options(options);
    detail::check(pqc_coap_server_new(id != nullptr ? id->native_handle() : nullptr, &o,
                                      &handle_),
                  "pqc_coap_server_new");
  }
  explicit CoapServer(const Identity &id, const CoapOptions &options = CoapOptions())
      : CoapServer(&id, options) {}
  CoapServer(const CoapServer &) = delete;
  CoapServer &operator=(const CoapServer &) = delete;
  // Handlers are registered with their address: the server stays put.
  CoapServer(CoapServer &&) = delete;
  CoapServer &operator=(CoapServer &&) = delete;
  // Freeing waits for running handlers, so handlers_ outlives their use.
  ~CoapServer() { pqc_coap_server_free(handle_); }

  void listen(const std::string &addr = "127.0.0.1:0") {
    detail::check(pqc_coap_server_listen(handle_, addr.c_str()), "pqc_coap_server_listen");
  }
  std::string addr() const {
    char out[128];
    std::size_t n = 0;
    detail::check(pqc_coap_server_addr(handle_, out, sizeof out, &n), "pqc_coap_server_addr");
    return out;
  }
  void add_peer(ByteView chain) {
    detail::check(pqc_coap_server_add_peer(handle_, chain.data(), chain.size()),
                  "pqc_coap_server_add_peer");
  }
  // h runs on library threads, possibly several at once. An exception it
  // throws answers 5.00. An empty h removes the resource (4.04).
  void set_handler(const std::string &path, Handler h) {
    auto next = h ? std::make_unique<Handler>(std::move(h)) : nullptr;
    detail::check(pqc_coap_server_set_handler(handle_, path.c_str(),
                                              next ? &CoapServer::trampoline : nullptr,
                                              next.get()),
                  "pqc_coap_server_set_handler");
    // The library no longer calls the old handler once this returned.
    handlers_[path] = std::move(next);
  }
  // Requests for path go to recv() / respond().
  void handle(const std::string &path) {
    detail::check(pqc_coap_server_handle(handle_, path.c_str()), "pqc_coap_server_handle");
  }
  // The next queued request, or nullopt when none came in time.
  std::optional<CoapRequest> recv(int timeout_ms) {
    CoapRequest r;
    char path[PQC_COAP_URI_MAX_BYTES], query[PQC_COAP_URI_MAX_BYTES];
    char sender[PQC_DEVICE_ID_MAX_BYTES];
    std::vector<std::uint8_t> payload(1024);
    std::size_t len = 0;
    auto take = [&](int t) {
      return pqc_coap_server_recv(handle_, t, &r.id, &r.method, path, sizeof path, query,
                                  sizeof query, sender, sizeof sender, &r.content_format,
                                  payload.data(), payload.size(), &len);
    };
    int st = take(timeout_ms);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      // The request stayed queued; take it with a buffer of its size.
      payload.resize(len);
      st = take(0);
    }
    if (st == PQC_ERR_TIMEOUT) {
      return std::nullopt;
    }
    detail::check(st, "pqc_coap_server_recv");
    payload.resize(len);
    r.path = path;
    r.query = query;
    r.sender = sender;
    r.payload = std::move(payload);
    return r;
  }
  void respond(std::uint64_t request_id, const CoapResponse &resp) {
    detail::check(pqc_coap_server_respond(handle_, request_id, resp.code, resp.content_format,
                                          resp.payload.data(), resp.payload.size()),
                  "pqc_coap_server_respond");
  }
  // Sends payload to every observer of path; returns how many.
  std::size_t notify(const std::string &path, ByteView payload,
                     int content_format = PQC_COAP_NO_FORMAT) {
    std::size_t sent = 0;
    detail::check(pqc_coap_server_notify(handle_, path.c_str(), content_format, payload.data(),
                                         payload.size(), &sent),
                  "pqc_coap_server_notify");
    return sent;
  }
  void close() { detail::check(pqc_coap_server_close(handle_), "pqc_coap_server_close"); }

  static std::size_t options_size() noexcept { return pqc_coap_options_size(); }
  pqc_coap_server *native_handle() const noexcept { return handle_; }

 private:
  static void trampoline(void *user, const pqc_coap_request *req, pqc_coap_response *resp) {
    try {
      CoapRequest r;
      r.method = req->method;
      r.path = req->path;
      r.query = req->query;
      r.sender = req->sender;
      r.content_format = req->content_format;
      r.payload.assign(req->payload, req->payload + req->payload_len);
      r.observe = req->observe != 0;
      CoapResponse out = (*static_cast<Handler *>(user))(r);
      if (out.payload.size() > resp->payload_cap) {
        resp->code = PQC_COAP_INTERNAL_ERROR;
        return;
      }
      std::copy(out.payload.begin(), out.payload.end(), resp->payload);
      resp->payload_len = out.payload.size();
      resp->code = out.code;
      resp->content_format = out.content_format;
    } catch (...) {
      resp->code = PQC_COAP_INTERNAL_ERROR;
      resp->payload_len = 0;
    }
  }

  pqc_coap_server *handle_ = nullptr;
  std::map<std::string, std::unique_ptr<Handler>> handlers_;
};

class CoapObservation {
 public:
  explicit CoapObservation(pqc_coap_observation *h) noexcept : handle_(h) {}
  CoapObservation(const CoapObservation &) = delete;
  CoapObservation &operator=(const CoapObservation &) = delete;
  CoapObservation(CoapObservation &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  CoapObservation &operator=(CoapObservation &&other) noexcept {
    if (this != &other) {
      pqc_coap_observe_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~CoapObservation() { pqc_coap_observe_free(handle_); }

  // The first answer, then each notification; nullopt when none in time.
  std::optional<CoapResponse> recv(int timeout_ms) {
    CoapResponse r;
    char sender[PQC_DEVICE_ID_MAX_BYTES];
    std::vector<std::uint8_t> payload(1024);
    std::size_t len = 0;
    int st = pqc_coap_observe_recv(handle_, timeout_ms, &r.code, &r.content_format,
                                   payload.data(), payload.size(), &len, sender, sizeof sender);
    if (st == PQC_ERR_BUFFER_TOO_SMALL) {
      payload.resize(len);
      st = pqc_coap_observe_recv(handle_, 0, &r.code, &r.content_format, payload.data(),
                                 payload.size(), &len, sender, sizeof sender);
    }
    if (st == PQC_ERR_TIMEOUT) {
      return std::nullopt;
    }
    detail::check(st, "pqc_coap_observe_recv");
    payload.resize(len);
    r.payload = std::move(payload);
    r.sender = sender;
    return r;
  }
  void cancel() { detail::check(pqc_coap_observe_cancel(handle_), "pqc_coap_observe_cancel"); }
  pqc_coap_observation *native_handle() const noexcept { return handle_; }

 private:
  pqc_coap_observation *handle_ = nullptr;
};

class CoapClient {
 public:
  CoapClient(const Identity *id, const std::string &addr,
             const CoapOptions &options = CoapOptions()) {
    pqc_coap_options o = detail::coap_options(options);
    detail::check(pqc_coap_client_new(id != nullptr ? id->native_handle() : nullptr,
                                      addr.c_str(), &o, &handle_),
                  "pqc_coap_client_new");
  }
  CoapClient(const Identity &id, const std::string &addr,
             const CoapOptions &options = CoapOptions())
      : CoapClient(&id, addr, options) {}
  CoapClient(const CoapClient &) = delete;
  CoapClient &operator=(const CoapClient &) = delete;
  CoapClient(CoapClient &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CoapClient &operator=(CoapClient &&other) noexcept {
    if (this != &other) {
      pqc_coap_client_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~CoapClient() { pqc_coap_client_free(handle_); }

  void add_peer(ByteView chain) {
    detail::check(pqc_coap_client_add_peer(handle_, chain.data(), chain.size()),
                  "pqc_coap_client_add_peer");
  }
  // A 4.xx or 5.xx answer is returned, not thrown: check code.
  CoapResponse request(std::uint32_t method, const std::string &path, ByteView payload = {},
                       int content_format = PQC_COAP_NO_FORMAT, int timeout_ms = 0) {
    CoapResponse r;
    char sender[PQC_DEVICE_ID_MAX_BYTES];
    std::vector<std::uint8_t> out(PQC_COAP_MAX_PAYLOAD);
    std::size_t len = 0;
    detail::check(pqc_coap_client_request(handle_, method, path.c_str(), content_format,
                                          payload.data(), payload.size(), timeout_ms, &r.code,
                                          &r.content_format, out.data(), out.size(), &len,
                                          sender, sizeof sender),
                  "pqc_coap_client_request");
    out.resize(len);
    r.payload = std::move(out);
    r.sender = sender;
    return r;
  }
  CoapResponse get(const std::string &path) { return request(PQC_COAP_GET, path); }
  CoapResponse post(const std::string &path, ByteView payload,
                    int content_format = PQC_COAP_NO_FORMAT) {
    return request(PQC_COAP_POST, path, payload, content_format);
  }
  CoapResponse put(const std::string &path, ByteView payload,
                   int content_format = PQC_COAP_NO_FORMAT) {
    return request(PQC_COAP_PUT, path, payload, content_format);
  }
  CoapResponse del(const std::string &path) { return request(PQC_COAP_DELETE, path); }
  CoapObservation observe(const std::string &path, int timeout_ms = 0) {
    pqc_coap_observation *o = nullptr;
    detail::check(pqc_coap_client_observe(handle_, path.c_str(), timeout_ms, &o),
                  "pqc_coap_client_observe");
    return CoapObservation(o);
  }
  void close() { detail::check(pqc_coap_client_close(handle_), "pqc_coap_client_close"); }
  pqc_coap_client *native_handle() const noexcept { return handle_; }

 private:
  pqc_coap_client *handle_ = nullptr;
};

}  // namespace pqc_iiot

#endif  // PQC_IIOT_HPP
