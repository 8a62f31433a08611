// scada: a SCADA server reading plant telemetry through an MQTT broker.
// It prints each reading with the sender the library verified, which is
// the device id in the sender's certificate, not anything the topic says.
//
//   PQC_PASSPHRASE=... scada BROKER_URL KEYSTORE [COUNT]
//
// It exits after COUNT readings (default 5), or with status 1 after 60 s.
#include <pqc_iiot.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>

int main(int argc, char **argv) {
  const char *pass = std::getenv("PQC_PASSPHRASE");
  if (argc < 3 || pass == nullptr) {
    std::cerr << "usage: PQC_PASSPHRASE=... " << argv[0] << " BROKER_URL KEYSTORE [COUNT]\n";
    return 2;
  }
  const int want = argc > 3 ? std::atoi(argv[3]) : 5;
  try {
    pqc_iiot::ensure_abi();
    auto id = pqc_iiot::Identity::open(argv[2], pqc_iiot::KeyKind::passphrase, pass);
    pqc_iiot::MqttClient client(id, argv[1]);

    std::mutex mu;
    std::condition_variable done;
    int got = 0;
    // Runs on a library thread; the main thread only waits.
    client.set_callback([&](const pqc_iiot::MqttMessage &m) {
      std::lock_guard<std::mutex> lock(mu);
      std::cout << "verified reading from " << m.sender << " on " << m.topic << ": "
                << m.text() << std::endl;
      if (++got >= want) {
        done.notify_one();
      }
    });
    client.subscribe("plant/+/telemetry");
    client.connect(10000);
    std::cout << "scada ready" << std::endl;

    std::unique_lock<std::mutex> lock(mu);
    bool complete = done.wait_for(lock, std::chrono::seconds(60), [&] { return got >= want; });
    lock.unlock();
    // Stop the callback before the objects it uses go away.
    client.set_callback(nullptr);
    auto stats = client.stats();
    std::cout << "scada: " << stats.delivered << " delivered, " << stats.dropped_unprotect
              << " refused" << std::endl;
    return complete ? 0 : 1;
  } catch (const pqc_iiot::Error &e) {
    std::cerr << "scada: " << e.what() << "\n";
    return 1;
  }
}
