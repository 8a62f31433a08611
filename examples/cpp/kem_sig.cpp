// A controller and a sensor agree on a key with ML-KEM-768, and the
// controller signs a command with ML-DSA-65 that the sensor verifies; the
// C++ counterpart of examples/c/kem_sig.c, using bindings/c/pqc_iiot.hpp.
//
//   c++ -std=c++17 kem_sig.cpp $(pkg-config --cflags --libs pqc_iiot)
#include <pqc_iiot.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

std::string hex_prefix(pqc_iiot::ByteView b) {
  std::string s;
  char buf[3];
  for (std::size_t i = 0; i < b.size() && i < 16; i++) {
    std::snprintf(buf, sizeof buf, "%02x", b.data()[i]);
    s += buf;
  }
  return s + (b.size() > 16 ? "..." : "") + " (" + std::to_string(b.size()) + " bytes)";
}

}  // namespace

int main() {
  try {
    pqc_iiot::ensure_abi();
    std::cout << "pqc_iiot " << pqc_iiot::version() << "\n";

    pqc_iiot::Kem kem("ML-KEM-768");
    auto sensor = kem.keypair();
    std::cout << "sensor public key      " << hex_prefix(sensor.public_key) << "\n";
    auto [ciphertext, controller_secret] = kem.encapsulate(sensor.public_key);
    std::cout << "controller ciphertext  " << hex_prefix(ciphertext) << "\n";
    auto sensor_secret = kem.decapsulate(sensor.secret_key, ciphertext);
    if (sensor_secret != controller_secret) {
      std::cerr << "shared secrets differ\n";
      return 1;
    }
    std::cout << kem.name() << ": both sides hold the same " << sensor_secret.size()
              << "-byte shared secret\n";

    pqc_iiot::Signature dsa("ML-DSA-65");
    auto controller = dsa.keypair();
    const std::string command = "valve 7: open 40%";
    auto sig = dsa.sign(controller.secret_key, command);
    std::cout << "signature              " << hex_prefix(sig) << "\n";
    if (!dsa.verify(controller.public_key, command, sig)) {
      std::cerr << "signature did not verify\n";
      return 1;
    }
    std::cout << dsa.name() << ": command \"" << command << "\" verified\n";
    if (dsa.verify(controller.public_key, "valve 7: open 100%", sig)) {
      std::cerr << "a forged command was accepted\n";
      return 1;
    }
    std::cout << dsa.name() << ": forged command rejected\n";
    return 0;
  } catch (const pqc_iiot::Error &e) {
    std::cerr << "pqc_iiot error " << e.status() << ": " << e.what() << "\n";
    return 1;
  }
}
