/* mqtt_sensor: a field sensor publishing telemetry through an MQTT broker.
 * Each reading is signed and encrypted for the devices whose certificates
 * let them read the topic; the broker only ever sees ciphertext.
 *
 *   PQC_PASSPHRASE=... mqtt_sensor BROKER_URL KEYSTORE [COUNT [READERS
 *                                  [SETPOINT_WAIT_S]]]
 *
 * KEYSTORE is a provisioned device (see examples/python/mqtt_interop.py).
 * READERS is how many subscribers to wait for before the first reading,
 * so none of them misses it (default 0: start at once). With
 * SETPOINT_WAIT_S > 0 the sensor then waits that long for a setpoint on
 * plant/line1/setpoint (the SCADA server sends one), prints it with the
 * sender the library verified, and fails if none came. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqc_iiot.h"

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

static int fail(const char *what, int st) {
  fprintf(stderr, "mqtt_sensor: %s: %s: %s\n", what, pqc_strerror(st),
          pqc_last_error());
  return 1;
}

/* Announcements seen so far: our own, then one per subscriber. */
static uint64_t announcements(pqc_mqtt_client *c) {
  pqc_mqtt_stats_t s;
  memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  return pqc_mqtt_stats(c, &s) == PQC_OK ? s.accepted_announcements : 0;
}

/* Waits for one verified setpoint and prints it. The payload buffer has
 * room for a NUL after the longest setpoint we accept. */
static int await_setpoint(pqc_mqtt_client *c, int seconds) {
  char topic[PQC_MQTT_TOPIC_MAX_BYTES];
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t payload[257];
  size_t len = 0;
  int st = pqc_mqtt_recv(c, seconds * 1000, topic, sizeof topic, sender,
                         sizeof sender, payload, sizeof payload - 1, &len);
  if (st != PQC_OK) {
    return fail("waiting for a setpoint", st);
  }
  payload[len] = '\0';
  printf("verified setpoint from %s on %s: %s\n", sender, topic,
         (const char *)payload);
  fflush(stdout);
  return PQC_OK;
}

int main(int argc, char **argv) {
  const char *pass = getenv("PQC_PASSPHRASE");
  const char *topic = "plant/line1/telemetry";
  int count = argc > 3 ? atoi(argv[3]) : 5;
  int readers = argc > 4 ? atoi(argv[4]) : 0;
  int setpoint_wait = argc > 5 ? atoi(argv[5]) : 0;
  pqc_identity *id = NULL;
  pqc_mqtt_client *client = NULL;
  int st, i, wait;

  if (argc < 3 || pass == NULL) {
    fprintf(stderr, "usage: PQC_PASSPHRASE=... %s BROKER_URL KEYSTORE "
                    "[COUNT [READERS [SETPOINT_WAIT_S]]]\n", argv[0]);
    return 2;
  }
  st = pqc_identity_open(argv[2], PQC_KEYSTORE_PASSPHRASE,
                         (const uint8_t *)pass, strlen(pass), &id);
  if (st != PQC_OK) {
    return fail("open keystore", st);
  }
  st = pqc_mqtt_new(id, argv[1], NULL, &client);
  if (st == PQC_OK && setpoint_wait > 0) {
    st = pqc_mqtt_subscribe(client, "plant/line1/setpoint");
  }
  if (st == PQC_OK) {
    st = pqc_mqtt_connect(client, 10000);
  }
  if (st != PQC_OK) {
    pqc_mqtt_free(client);
    pqc_identity_free(id);
    return fail("connect", st);
  }
  for (wait = 0; wait < 100 && announcements(client) < (uint64_t)readers + 1;
       wait++) {
    sleep_ms(100);
  }

  for (i = 1; i <= count && st == PQC_OK; i++) {
    char reading[64];
    sprintf(reading, "reading %d: temp=%.1f C", i, 20.0 + i * 0.5);
    /* PQC_ERR_STATE: no reader of the topic has announced keys yet. */
    for (wait = 0; wait < 50; wait++) {
      st = pqc_mqtt_publish(client, topic, (const uint8_t *)reading,
                            strlen(reading), 10000);
      if (st != PQC_ERR_STATE) {
        break;
      }
      sleep_ms(200);
    }
    if (st == PQC_OK) {
      printf("published %s\n", reading);
      fflush(stdout);
      sleep_ms(100);
    }
  }
  if (st != PQC_OK) {
    fail("publish", st);
  } else if (setpoint_wait > 0) {
    st = await_setpoint(client, setpoint_wait);
  }
  pqc_mqtt_free(client);
  pqc_identity_free(id);
  return st == PQC_OK ? 0 : 1;
}
