/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "companion-record.h"

G_BEGIN_DECLS

/* The desktop's mirror of the phone (DESIGN.md, "Sync model" and "Desktop
 * store"): STATE_DIR/mirror.db (SQLite, WAL) with the records of
 * docs/records.md, the sync cursor, snapshot progress and the outbox, and
 * the media files content-addressed under STATE_DIR/media/HASH.
 *
 * One object is the one writer of its database; use it from one thread at a
 * time (a worker thread for the UI, the main thread for the CLI). Every
 * write is one transaction: when a call fails, nothing it was given is
 * applied and the cursor does not move. */
#define COMPANION_MIRROR_STORE_FILENAME       "mirror.db"
#define COMPANION_MIRROR_STORE_MEDIA_DIR      "media"
/* The schema version this build writes (PRAGMA user_version). */
#define COMPANION_MIRROR_STORE_SCHEMA_VERSION 1
/* At most this many characters of a message make a chat's preview. */
#define COMPANION_MIRROR_STORE_PREVIEW_LENGTH 120

#define COMPANION_MIRROR_STORE_ERROR (companion_mirror_store_error_quark ())

typedef enum
{
  COMPANION_MIRROR_STORE_ERROR_FAILED,
  /* A change's seq is past the cursor + 1: the message names the missing seqs. */
  COMPANION_MIRROR_STORE_ERROR_SEQUENCE_GAP,
  /* A record breaks docs/records.md: the message names the seq, entity, id and field. */
  COMPANION_MIRROR_STORE_ERROR_INVALID_RECORD,
  /* A record names a chat, contact, media or message the mirror does not have. */
  COMPANION_MIRROR_STORE_ERROR_UNKNOWN_REFERENCE,
  /* A delete of a contact or media that other records still name. */
  COMPANION_MIRROR_STORE_ERROR_IN_USE,
  /* A media file whose bytes do not hash to its name, or whose size is wrong. */
  COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH,
  /* No such record (media for a file, an outbox entry). */
  COMPANION_MIRROR_STORE_ERROR_NOT_FOUND,
  /* The database was written by a newer Companion. */
  COMPANION_MIRROR_STORE_ERROR_NEWER_VERSION,
  /* The database file or a stored record is damaged. */
  COMPANION_MIRROR_STORE_ERROR_CORRUPT,
  /* The disk is full. */
  COMPANION_MIRROR_STORE_ERROR_FULL,
  /* Reading or writing failed. */
  COMPANION_MIRROR_STORE_ERROR_IO,
  /* Another process holds the database. */
  COMPANION_MIRROR_STORE_ERROR_BUSY,
  /* A value given to the store is refused (outbox command, progress text). */
  COMPANION_MIRROR_STORE_ERROR_INVALID,
} CompanionMirrorStoreError;

/* Local state of a media file. */
typedef enum
{
  COMPANION_MEDIA_STATE_ABSENT,
  COMPANION_MEDIA_STATE_PARTIAL,
  COMPANION_MEDIA_STATE_COMPLETE,
} CompanionMediaState;

/* A row of the chat list. */
typedef struct
{
  JsonObject *record;                /* the chat record (docs/records.md) */
  gint64      last_message_time;     /* ms; 0 when the chat has no message */
  char       *last_message_preview;  /* "" when the chat has no message */
} CompanionMirrorChat;

/* A search result. */
typedef struct
{
  char *message_id;
  char *chat_id;
  char *snippet;  /* a few words of the text around the match, marked */
} CompanionMirrorSearchHit;

/* A command waiting for the phone. */
typedef struct
{
  char       *client_id;
  JsonObject *command;
  gint64      created;   /* ms since the epoch */
  guint       attempts;
} CompanionOutboxEntry;

void companion_mirror_chat_free       (CompanionMirrorChat      *chat);
void companion_mirror_search_hit_free (CompanionMirrorSearchHit *hit);
void companion_outbox_entry_free      (CompanionOutboxEntry     *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionMirrorChat, companion_mirror_chat_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionMirrorSearchHit, companion_mirror_search_hit_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionOutboxEntry, companion_outbox_entry_free)

#define COMPANION_TYPE_MIRROR_STORE (companion_mirror_store_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMirrorStore, companion_mirror_store,
                      COMPANION, MIRROR_STORE, GObject)

GQuark                companion_mirror_store_error_quark (void);

/* Opens STATE_DIR/mirror.db (0600), creating it, and STATE_DIR/media (0700).
 * Brings an older schema up to date; refuses one from a newer Companion
 * (COMPANION_MIRROR_STORE_ERROR_NEWER_VERSION). */
CompanionMirrorStore *companion_mirror_store_open          (const char            *state_dir,
                                                            GError               **error);
const char           *companion_mirror_store_get_state_dir (CompanionMirrorStore  *self);

/* Sync. */

/* The seq of the last change applied; 0 before the first sync. */
guint64    companion_mirror_store_get_cursor          (CompanionMirrorStore  *self);
/* ms since the epoch of the last applied batch or finished snapshot; 0 if none. */
gint64     companion_mirror_store_get_last_sync       (CompanionMirrorStore  *self);
/* Applies live CHANGES (CompanionChange *) in one transaction with the
 * cursor. Seqs must follow the cursor one by one; a seq at or below the
 * cursor was applied before and is skipped. Records are validated and their
 * references checked (a message's chat, sender, media and reply; a chat's or
 * call's participants); deleting a chat deletes its messages; deleting a
 * contact or media still named elsewhere is refused. On any error nothing is
 * applied and the message names the seq: "change 57 follows 54: 55–56 are
 * missing", "change 9: message “m-7”: “time” must be an integer". */
gboolean   companion_mirror_store_apply_changes       (CompanionMirrorStore  *self,
                                                       GPtrArray             *changes,
                                                       GError               **error);
/* Upserts one page of a first sync: RECORDS (JsonObject *) of ENTITY, in one
 * transaction, validated as live changes are, except that a reply may name
 * a message not mirrored yet (history comes newest first). Messages become
 * searchable at finish_snapshot, which indexes them in bulk. */
gboolean   companion_mirror_store_apply_snapshot      (CompanionMirrorStore  *self,
                                                       CompanionEntity        entity,
                                                       GPtrArray             *records,
                                                       GError               **error);
/* One page of a first sync: RECORDS (JsonObject *) of ENTITY. */
typedef struct
{
  CompanionEntity  entity;
  GPtrArray       *records;
} CompanionSnapshotPage;

/* Applies N_PAGES pages as apply_snapshot does each, all in one
 * transaction: fewer commits write each database page fewer times. */
gboolean   companion_mirror_store_apply_snapshot_pages (CompanionMirrorStore        *self,
                                                        const CompanionSnapshotPage *pages,
                                                        guint                        n_pages,
                                                        GError                     **error);
/* The same, with CANONICAL[P] (may be NULL, as may CANONICAL) the
 * canonical JSON (char *) of records of page P that
 * companion_record_to_canonical() has checked and written already
 * (elsewhere, beforehand); records it has no text for (NULL or past its
 * end) are checked here, so errors are the same either way. */
gboolean   companion_mirror_store_apply_checked_snapshot_pages (CompanionMirrorStore        *self,
                                                                const CompanionSnapshotPage *pages,
                                                                GPtrArray * const           *canonical,
                                                                guint                        n_pages,
                                                                GError                     **error);
/* TRUE: the messages of snapshot pages applied through this connection are
 * indexed for search in bulk in each page's own transaction, not at
 * finish_snapshot: a sync that commits on a thread of its own indexes while
 * the next pages are received, instead of all at the end. */
void       companion_mirror_store_set_index_snapshot_pages (CompanionMirrorStore *self,
                                                            gboolean              index_pages);
/* Indexes the messages of every snapshot page for search, sets the cursor to
 * CURSOR (the seq the snapshot was taken at; it may not go back) and clears
 * the snapshot progress. */
gboolean   companion_mirror_store_finish_snapshot     (CompanionMirrorStore  *self,
                                                       guint64                cursor,
                                                       GError               **error);
/* Opaque text (JSON) with which the sync engine resumes a first sync; NULL
 * clears it. At most 64 KiB of UTF-8. */
/* Forgets every mirrored record and sets the cursor back to 0, before a
 * snapshot starts over: what an interrupted one left may since have been
 * deleted on the phone. The outbox and the media files stay. */
gboolean   companion_mirror_store_reset               (CompanionMirrorStore  *self,
                                                       GError               **error);
gboolean   companion_mirror_store_set_snapshot_progress (CompanionMirrorStore  *self,
                                                         const char            *progress,
                                                         GError               **error);
/* NULL when there is none. */
char      *companion_mirror_store_get_snapshot_progress (CompanionMirrorStore  *self);

/* Reads. Errors only when the database cannot be read. A LIMIT of 0 means
 * no limit. */

/* How many records of ENTITY the mirror holds; -1 with ERROR set on failure. */
gint64     companion_mirror_store_count               (CompanionMirrorStore  *self,
                                                       CompanionEntity        entity,
                                                       GError               **error);
/* The record of ENTITY with ID (its hash for media), or NULL (no error when
 * there is none). */
JsonObject *companion_mirror_store_lookup             (CompanionMirrorStore  *self,
                                                       CompanionEntity        entity,
                                                       const char            *id,
                                                       GError               **error);
/* CompanionMirrorChat *: pinned first, then by last message time, newest
 * first (chats without messages last), then by id. */
GPtrArray *companion_mirror_store_list_chats          (CompanionMirrorStore  *self,
                                                       guint                  limit,
                                                       guint                  offset,
                                                       GError               **error);
/* Message records (JsonObject *) of CHAT_ID, newest first (by time, then id,
 * both descending). With BEFORE_ID NULL the newest LIMIT; otherwise the LIMIT
 * that come after (BEFORE_TIME, BEFORE_ID), the last row of the previous
 * page. */
GPtrArray *companion_mirror_store_list_messages       (CompanionMirrorStore  *self,
                                                       const char            *chat_id,
                                                       gint64                 before_time,
                                                       const char            *before_id,
                                                       guint                  limit,
                                                       GError               **error);
/* Call records (JsonObject *), newest first. */
GPtrArray *companion_mirror_store_list_calls          (CompanionMirrorStore  *self,
                                                       guint                  limit,
                                                       guint                  offset,
                                                       GError               **error);
/* CompanionMirrorSearchHit *: messages holding every word of QUERY (plain
 * text typed by a user, not FTS syntax; the last word matches as a prefix;
 * case and Latin diacritics ignored), newest first. The snippet puts
 * MARK_START and MARK_END around each match. */
GPtrArray *companion_mirror_store_search              (CompanionMirrorStore  *self,
                                                       const char            *query,
                                                       const char            *mark_start,
                                                       const char            *mark_end,
                                                       guint                  limit,
                                                       GError               **error);

/* Media. */

/* Reads STREAM to its end and keeps it as STATE_DIR/media/HASH (0600) when
 * its bytes hash (BLAKE2b-256) to HASH and their count is the media record's
 * size; otherwise nothing is kept (COMPANION_MIRROR_STORE_ERROR_MEDIA_MISMATCH).
 * HASH must be a known media record. */
gboolean   companion_mirror_store_store_media_file    (CompanionMirrorStore  *self,
                                                       const char            *hash,
                                                       GInputStream          *stream,
                                                       GCancellable          *cancellable,
                                                       GError               **error);
/* Records a transfer in progress: BYTES_RECEIVED of the media's size. */
gboolean   companion_mirror_store_set_media_progress  (CompanionMirrorStore  *self,
                                                       const char            *hash,
                                                       guint64                bytes_received,
                                                       GError               **error);
/* FALSE with ERROR when HASH is not a known media record. */
gboolean   companion_mirror_store_get_media_state     (CompanionMirrorStore  *self,
                                                       const char            *hash,
                                                       CompanionMediaState   *state_out,
                                                       guint64               *bytes_received_out,
                                                       GError               **error);
/* The stored file of HASH, or NULL when it is not complete. */
char      *companion_mirror_store_get_media_path      (CompanionMirrorStore  *self,
                                                       const char            *hash);
/* Re-hashes every complete media file. FALSE with MEDIA_MISMATCH naming the
 * bad ones when a file is missing or its bytes changed. */
gboolean   companion_mirror_store_verify_media_files  (CompanionMirrorStore  *self,
                                                       GError               **error);

/* Copies STREAM into STATE_DIR/media/HASH, named by the BLAKE2b-256 of its
 * bytes, for a file the desktop sends, and returns HASH (its size in
 * SIZE_OUT). No media record is needed or made: the phone's change brings
 * it, and adopt_media_file then finds the file. A stream longer than
 * MAX_SIZE is refused (COMPANION_MIRROR_STORE_ERROR_INVALID) and nothing is
 * kept. It touches no database, so it may run on a worker thread while the
 * store is used on another. */
char      *companion_mirror_store_import_media_file   (CompanionMirrorStore  *self,
                                                       GInputStream          *stream,
                                                       guint64                max_size,
                                                       guint64               *size_out,
                                                       GCancellable          *cancellable,
                                                       GError               **error);
/* Keeps the file at PATH, in the media folder, as STATE_DIR/media/HASH:
 * flushed to disk and renamed into place, never copied nor read again.
 * DIGEST is the BLAKE2b-256 of its bytes, hashed by the caller as it wrote
 * them; when it is not HASH, PATH is removed and nothing is kept
 * (MEDIA_MISMATCH). It touches no database, so it may run on a worker
 * thread; adopt_media_file then checks the size and records it complete. */
gboolean   companion_mirror_store_keep_media_file     (CompanionMirrorStore  *self,
                                                       const char            *hash,
                                                       const char            *path,
                                                       const guint8          *digest,
                                                       GError               **error);
/* Marks the media record HASH complete when its file is already in the
 * media folder with the record's size (a file the desktop sent), so it is
 * not downloaded again. COMPLETE_OUT (may be NULL): whether it is complete
 * now. FALSE with ERROR when the mirror has no such record. */
gboolean   companion_mirror_store_adopt_media_file    (CompanionMirrorStore  *self,
                                                       const char            *hash,
                                                       gboolean              *complete_out,
                                                       GError               **error);

/* Outbox: commands for the phone, kept until the phone's change confirms them. */

/* Adding the same CLIENT_ID with the same command again does nothing; with
 * another command it is refused. COMMAND is kept in canonical JSON. */
gboolean   companion_mirror_store_outbox_add          (CompanionMirrorStore  *self,
                                                       const char            *client_id,
                                                       JsonObject            *command,
                                                       GError               **error);
/* CompanionOutboxEntry *, oldest first. */
GPtrArray *companion_mirror_store_outbox_list         (CompanionMirrorStore  *self,
                                                       GError               **error);
/* Counts one more attempt to send CLIENT_ID. */
gboolean   companion_mirror_store_outbox_mark_attempt (CompanionMirrorStore  *self,
                                                       const char            *client_id,
                                                       GError               **error);
/* Removing an entry that is not there is not an error; REMOVED_OUT (may be
 * NULL) says whether there was one. */
gboolean   companion_mirror_store_outbox_remove       (CompanionMirrorStore  *self,
                                                       const char            *client_id,
                                                       gboolean              *removed_out,
                                                       GError               **error);

/* Every record, for companion_export_to_string() (docs/records.md). */
CompanionExport *companion_mirror_store_export        (CompanionMirrorStore  *self,
                                                       GError               **error);

G_END_DECLS
