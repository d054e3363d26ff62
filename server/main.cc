// chatgenius-db-server: the ChatGenius database service.
//
// Reads configuration from flags and the environment (see config.h and the
// README), serves gRPC until SIGINT or SIGTERM, then shuts down gracefully.
#include <csignal>
#include <iostream>
#include <thread>

#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/app/config.h"
#include "server/app/server.h"
#include "server/common/log.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ChatGenius database service. Every flag also reads the environment variable of the "
      "same name in upper case (flags win).");
  absl::ParseCommandLine(argc, argv);
  // Debian's abseil is built without NDEBUG, so absl::Mutex maintains its
  // deadlock-detection graph on every lock (GraphCycles showed in the
  // profile of bench/run.sh). The locking order is tested; do not pay for it
  // in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<chatgenius::Config> config =
      chatgenius::LoadConfig(chatgenius::FlagsThenEnvironment());
  if (!config.ok()) {
    std::cerr << "configuration error: " << config.status().message() << "\n";
    return 2;
  }
  chatgenius::ConfigureLogging(
      config->log_format == "json" ? chatgenius::LogFormat::kJson : chatgenius::LogFormat::kText,
      chatgenius::ParseLogLevel(config->log_level));
  for (const std::string& line : config->Describe()) chatgenius::LogInfo(line);

  // Block the signals before any thread starts so only the waiter below
  // receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<chatgenius::Server>> server = chatgenius::Server::Start(*config);
  if (!server.ok()) {
    chatgenius::LogError(absl::StrCat("cannot start: ", server.status().ToString()));
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    chatgenius::LogInfo(absl::StrCat("received signal ", sig, "; draining for ",
                                     absl::FormatDuration(config->shutdown_drain)));
    (*server)->BeginShutdown();
    absl::SleepFor(config->shutdown_drain);
    (*server)->Shutdown(config->shutdown_grace);
  });
  (*server)->Wait();
  waiter.join();
  chatgenius::LogInfo("stopped");
  return 0;
}
