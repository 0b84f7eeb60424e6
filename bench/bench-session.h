/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "test-process.h"

G_BEGIN_DECLS

/* A paired desktop (companion-cli) and phone (companion-phone), real
 * programs in a temporary folder, for benchmarks that measure them once
 * they run on their own: pairing and the first sync happen before, in
 * programs of their own, so what those cost does not show in the figures. */
typedef struct
{
  char        *root;        /* the temporary folder, removed at the end */
  char        *desktop_dir;
  char        *phone_dir;
  TestProcess *desktop;     /* `run`, after bench_session_start() */
  TestProcess *phone;
  char        *desktop_output; /* all each printed, after bench_session_stop() */
  char        *phone_output;
} BenchSession;

/* A new folder and environment; exits with status 2 when COMPANION_CLI or
 * COMPANION_PHONE is not set. */
BenchSession *bench_session_new   (const char   *name);
/* Pairs a new phone filled by DATA_OPTION DATA ("--generate" SPEC or
 * "--fixture" FILE), waits until the desktop mirrors all of it, and ends
 * both programs. */
void          bench_session_pair  (BenchSession *self,
                                   const char   *data_option,
                                   const char   *data);
/* Starts both with `run` (the phone also with up to four more arguments,
 * NULL-terminated) and waits until both say they are connected. */
void          bench_session_start (BenchSession *self,
                                   ...) G_GNUC_NULL_TERMINATED;
/* Asks both to quit; FALSE if either did not exit with status 0. */
gboolean      bench_session_stop  (BenchSession *self);
void          bench_session_free  (BenchSession *self);

G_END_DECLS
