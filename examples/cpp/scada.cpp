// scada: a SCADA server reading plant telemetry through an MQTT broker.
// It prints each reading with the sender the library verified, which is
// the device id in the sender's certificate, not anything the topic says.
//
//   PQC_PASSPHRASE=... scada BROKER_URL KEYSTORE [COUNT [--exchange]]
//
// It exits after COUNT readings (default 5), or with status 1 after 60 s.
// With --exchange it then answers the line with a setpoint on
// plant/line1/setpoint (the sensor and the historian read it) and waits
// for the historian's report on plant/+/report before exiting.
#include <pqc_iiot.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

// Publishes, retrying while no reader of the topic has announced keys yet
// (PQC_ERR_STATE): the reader may have connected a moment ago.
void publish_when_read(pqc_iiot::MqttClient &client, const std::string &topic,
                       const std::string &text) {
  for (int attempt = 0;; attempt++) {
    try {
      client.publish(topic, pqc_iiot::ByteView(reinterpret_cast<const std::uint8_t *>(text.data()),
                                               text.size()),
                     10000);
      return;
    } catch (const pqc_iiot::Error &e) {
      if (e.status() != PQC_ERR_STATE || attempt >= 50) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  const char *pass = std::getenv("PQC_PASSPHRASE");
  if (argc < 3 || pass == nullptr) {
    std::cerr << "usage: PQC_PASSPHRASE=... " << argv[0]
              << " BROKER_URL KEYSTORE [COUNT [--exchange]]\n";
    return 2;
  }
  const int want = argc > 3 ? std::atoi(argv[3]) : 5;
  const bool exchange = argc > 4 && std::strcmp(argv[4], "--exchange") == 0;
  try {
    pqc_iiot::ensure_abi();
    auto id = pqc_iiot::Identity::open(argv[2], pqc_iiot::KeyKind::passphrase, pass);
    pqc_iiot::MqttClient client(id, argv[1]);

    std::mutex mu;
    std::condition_variable changed;
    int got = 0;
    bool reported = false;
    // Runs on a library thread; the main thread only waits.
    client.set_callback([&](const pqc_iiot::MqttMessage &m) {
      std::lock_guard<std::mutex> lock(mu);
      const bool report = m.topic.size() > 7 && m.topic.compare(m.topic.size() - 7, 7, "/report") == 0;
      std::cout << "verified " << (report ? "report" : "reading") << " from " << m.sender
                << " on " << m.topic << ": " << m.text() << std::endl;
      if (report) {
        reported = true;
      } else {
        got++;
      }
      changed.notify_one();
    });
    client.subscribe("plant/+/telemetry");
    if (exchange) {
      client.subscribe("plant/+/report");
    }
    client.connect(10000);
    std::cout << "scada ready" << std::endl;

    std::unique_lock<std::mutex> lock(mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool complete = changed.wait_until(lock, deadline, [&] { return got >= want; });
    if (complete && exchange) {
      lock.unlock();
      std::string setpoint = "setpoint: temp=21.5 C after " + std::to_string(want) + " readings";
      publish_when_read(client, "plant/line1/setpoint", setpoint);
      std::cout << "sent " << setpoint << std::endl;
      lock.lock();
      complete = changed.wait_until(lock, deadline, [&] { return reported; });
    }
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
