/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A real long-running program for tests and benchmarks: JSON-line events
 * read with a deadline, commands written to its stdin, and everything it
 * printed kept. It dies with the process that started it. */
typedef struct _TestProcess TestProcess;

/* TRUE in the sanitizer build, where programs run several times slower. */
gboolean     test_process_sanitized    (void);
/* How long test_process_wait_event() waits: longer when sanitized. */
int          test_process_timeout_s    (void);

/* Points the programs started from now on at DATA_HOME for their data
 * (and libsecret's file backend, so no D-Bus is needed) and at the
 * system's DATA_DIRS for schemas and modules; they run with fatal
 * criticals, not fatal warnings (see test-process.c). */
void         test_process_isolated_env (const char  *data_home,
                                        const char  *data_dirs);
/* Programs started from now on write their stderr to a file of their own
 * in DIR (stderr-N.log), so a test can read all of it; NULL: the test's. */
void         test_process_set_stderr_dir (const char *dir);
/* Programs started from now on cannot grow a file past BYTES (RLIMIT_FSIZE,
 * with SIGXFSZ ignored, so a write fails as on a full disk); 0: no limit. */
void         test_process_set_file_size_limit (goffset bytes);
TestProcess *test_process_start        (const char  *first,
                                        ...) G_GNUC_NULL_TERMINATED;
/* The next event named EVENT, skipping others; aborts after
 * test_process_timeout_s(). */
JsonObject  *test_process_wait_event   (TestProcess *process,
                                        const char  *event);
void         test_process_send         (TestProcess *process,
                                        const char  *line);
const char  *test_process_get_output   (TestProcess *process);
/* The program's peak resident memory so far (VmHWM), in KiB; -1 if gone. */
gint64       test_process_peak_rss_kib (TestProcess *process);
/* The program's process id, for /proc. */
int          test_process_get_pid      (TestProcess *process);
/* Reads everything the program prints until it closes its output (after a
 * "quit"), so that test_process_get_output() holds all of it. */
void         test_process_drain        (TestProcess *process);
/* The program named by the environment VARIABLE (COMPANION_CLI,
 * COMPANION_PHONE); fails the test when it is not set. */
const char  *test_process_program      (const char  *variable);
/* What `PROGRAM export --state-dir STATE_DIR` prints; fails the test on a
 * non-zero exit. */
char        *test_process_export       (const char  *program_path,
                                        const char  *state_dir);
/* The desktop's next "synced" event that says it is up to date. */
JsonObject  *test_process_wait_up_to_date (TestProcess *desktop);
/* SIGKILL: no cleanup of any kind, as a crash or a power cut. Frees PROCESS. */
void         test_process_kill         (TestProcess *process);
/* Waits for the exit, frees PROCESS and returns its exit status. */
int          test_process_finish       (TestProcess *process);

G_END_DECLS
