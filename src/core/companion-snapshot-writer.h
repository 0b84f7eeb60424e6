/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "companion-record.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_SNAPSHOT_WRITER (companion_snapshot_writer_get_type ())

G_DECLARE_FINAL_TYPE (CompanionSnapshotWriter, companion_snapshot_writer, COMPANION, SNAPSHOT_WRITER, GObject)

/* Writes the pages of a first sync into the mirror of STATE_DIR on one
 * worker thread with its own database connection, so that checking,
 * writing and indexing records runs beside the thread that receives and
 * parses the next pages. Commits run one at a time in the order they were
 * asked for; once one fails, the rest of that sync is skipped. */
CompanionSnapshotWriter *companion_snapshot_writer_new          (const char              *state_dir);
/* Adds a page for the next commit: RECORDS is a JSON array node of record
 * objects of ENTITY. It is referenced here and released by whichever
 * thread is done with it last (a JsonNode's reference count is atomic);
 * nothing of it may change meanwhile. */
void                     companion_snapshot_writer_add_page     (CompanionSnapshotWriter *self,
                                                                 CompanionEntity          entity,
                                                                 JsonNode                *records);
/* Commits the pages added since the last commit in one transaction
 * (companion_mirror_store_apply_snapshot_pages). */
void                     companion_snapshot_writer_commit_async (CompanionSnapshotWriter *self,
                                                                 GAsyncReadyCallback      callback,
                                                                 gpointer                 user_data);
gboolean                 companion_snapshot_writer_commit_finish (CompanionSnapshotWriter *self,
                                                                  GAsyncResult            *result,
                                                                  GError                 **error);
/* After every commit asked for before: companion_mirror_store_finish_snapshot
 * with CURSOR; the worker's connection is closed afterwards (its large page
 * cache is only for the load). */
void                     companion_snapshot_writer_finish_async (CompanionSnapshotWriter *self,
                                                                 guint64                  cursor,
                                                                 GAsyncReadyCallback      callback,
                                                                 gpointer                 user_data);
gboolean                 companion_snapshot_writer_finish_finish (CompanionSnapshotWriter *self,
                                                                  GAsyncResult            *result,
                                                                  GError                 **error);
/* Drops the pages not committed yet, skips the commits still waiting
 * (they fail with G_IO_ERROR_CANCELLED) and returns once the running one,
 * if any, is done: the database is then the caller's alone to change. */
void                     companion_snapshot_writer_cancel       (CompanionSnapshotWriter *self);

G_END_DECLS
