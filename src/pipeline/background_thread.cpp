#include "pipeline/background_thread.hpp"

#include <pthread.h>

namespace kagura::pipeline {

AsyncSignalsBlocked::AsyncSignalsBlocked() {
  sigset_t asynchronous;
  sigfillset(&asynchronous);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
    sigdelset(&asynchronous, fault);
  }
  pthread_sigmask(SIG_BLOCK, &asynchronous, &saved_mask_);
}

AsyncSignalsBlocked::~AsyncSignalsBlocked() {
  pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
}

void name_this_thread(const char* name) noexcept {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace kagura::pipeline
