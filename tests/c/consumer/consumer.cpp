// Smallest useful C++ consumer of an installed pqc_iiot: one signature.
#include <pqc_iiot.hpp>

#include <iostream>
#include <string_view>

int main() {
  try {
    pqc_iiot::ensure_abi();
    pqc_iiot::Signature dsa("ML-DSA-65");
    auto keys = dsa.keypair();
    std::string_view msg = "consumer";
    auto sig = dsa.sign(keys.secret_key, msg);
    bool ok = dsa.verify(keys.public_key, msg, sig);
    std::cout << "consumer (C++): pqc_iiot " << pqc_iiot::version()
              << ", ML-DSA-65 signature " << (ok ? "ok" : "FAILED") << "\n";
    return ok ? 0 : 1;
  } catch (const pqc_iiot::Error &e) {
    std::cerr << "pqc_iiot error " << e.status() << ": " << e.what() << "\n";
    return 1;
  }
}
