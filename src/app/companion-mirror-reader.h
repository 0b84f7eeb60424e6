/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_MIRROR_READER (companion_mirror_reader_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMirrorReader, companion_mirror_reader,
                      COMPANION, MIRROR_READER, GObject)

/* Reads the mirror for the UI without ever touching SQLite on the main
 * thread: its own CompanionMirrorStore on STATE_DIR (a second connection;
 * WAL lets it read while the sync engine writes), opened on first use, and
 * one worker thread that runs every read in the order asked, so the
 * connection is never used by two threads at once. Results arrive on the
 * thread-default main context of the caller, as the blocking functions of
 * companion-mirror-store.h return them; an error opening the store is the
 * error of every read. */
CompanionMirrorReader *companion_mirror_reader_new              (const char             *state_dir);
const char            *companion_mirror_reader_get_state_dir    (CompanionMirrorReader  *self);

/* Result: GPtrArray of CompanionMirrorChat * (companion_mirror_store_list_chats). */
void        companion_mirror_reader_list_chats_async     (CompanionMirrorReader  *self,
                                                          guint                   limit,
                                                          guint                   offset,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
GPtrArray  *companion_mirror_reader_list_chats_finish    (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: GPtrArray of message JsonObject *, newest first
 * (companion_mirror_store_list_messages). */
void        companion_mirror_reader_list_messages_async  (CompanionMirrorReader  *self,
                                                          const char             *chat_id,
                                                          gint64                  before_time,
                                                          const char             *before_id,
                                                          guint                   limit,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
GPtrArray  *companion_mirror_reader_list_messages_finish (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: GPtrArray of call JsonObject *, newest first. */
void        companion_mirror_reader_list_calls_async     (CompanionMirrorReader  *self,
                                                          guint                   limit,
                                                          guint                   offset,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
GPtrArray  *companion_mirror_reader_list_calls_finish    (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: GPtrArray of CompanionMirrorSearchHit * (companion_mirror_store_search). */
void        companion_mirror_reader_search_async         (CompanionMirrorReader  *self,
                                                          const char             *query,
                                                          const char             *mark_start,
                                                          const char             *mark_end,
                                                          guint                   limit,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
GPtrArray  *companion_mirror_reader_search_finish        (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: the record of ENTITY with ID, or NULL without an error when the
 * mirror has none. */
void        companion_mirror_reader_lookup_async         (CompanionMirrorReader  *self,
                                                          CompanionEntity         entity,
                                                          const char             *id,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
JsonObject *companion_mirror_reader_lookup_finish        (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: how many records of ENTITY the mirror holds; -1 with ERROR set. */
void        companion_mirror_reader_count_async          (CompanionMirrorReader  *self,
                                                          CompanionEntity         entity,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
gint64      companion_mirror_reader_count_finish         (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: the stored file of media HASH, or NULL without an error when it
 * is not complete (companion_mirror_store_get_media_path). */
void        companion_mirror_reader_media_path_async     (CompanionMirrorReader  *self,
                                                          const char             *hash,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
char       *companion_mirror_reader_media_path_finish    (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

/* Result: GPtrArray of CompanionOutboxEntry *, oldest first: the commands
 * still waiting for the phone. */
void        companion_mirror_reader_outbox_list_async    (CompanionMirrorReader  *self,
                                                          GCancellable           *cancellable,
                                                          GAsyncReadyCallback     callback,
                                                          gpointer                user_data);
GPtrArray  *companion_mirror_reader_outbox_list_finish   (CompanionMirrorReader  *self,
                                                          GAsyncResult           *result,
                                                          GError                **error);

G_END_DECLS
