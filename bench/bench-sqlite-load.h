/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The page cache (KiB) and checkpoint interval (pages) the baseline gets:
 * the mirror's own during a snapshot (companion-mirror-store.c). Its page
 * size is the mirror's too: an empty store creates the database. */
#define BENCH_CACHE_KIB        65536
#define BENCH_CHECKPOINT_PAGES 16384

/* Loads every record of the phone database PHONE_DB into a new mirror
 * database in STATE_DIR, and returns the seconds the load took (rows,
 * full-text index, chat previews, one commit), or -1 with ERROR set.
 * ROWS_OUT gets the number of rows inserted. */
double bench_sqlite_load (const char  *phone_db,
                          const char  *state_dir,
                          guint64     *rows_out,
                          GError     **error);

G_END_DECLS
