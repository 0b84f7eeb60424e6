/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-record.h"

G_BEGIN_DECLS

/* The phone's own data: STATE_DIR/phone.db (SQLite, WAL) holds the records
 * of docs/records.md and the change log; STATE_DIR/media/HASH holds each
 * media file, named by the BLAKE2b-256 of its bytes (files 0600, folder
 * 0700). One writer per database; every change gets the next sequence number
 * (1, 2, 3, …) in the same transaction that writes it. */
#define COMPANION_PHONE_STORE_FILENAME "phone.db"
#define COMPANION_PHONE_STORE_MEDIA_DIR "media"

#define COMPANION_PHONE_STORE_ERROR (companion_phone_store_error_quark ())

typedef enum
{
  COMPANION_PHONE_STORE_ERROR_FAILED,     /* SQLite or file system */
  COMPANION_PHONE_STORE_ERROR_CORRUPT,    /* a database this build cannot read */
  COMPANION_PHONE_STORE_ERROR_REFERENCE,  /* a record refers to one that does not exist */
  COMPANION_PHONE_STORE_ERROR_IN_USE,     /* deleting a record others refer to */
  COMPANION_PHONE_STORE_ERROR_MEDIA,      /* a media file missing, or not matching its hash/size */
  COMPANION_PHONE_STORE_ERROR_NOT_EMPTY,  /* loading generated or fixture data into a used store */
} CompanionPhoneStoreError;

#define COMPANION_TYPE_PHONE_STORE (companion_phone_store_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPhoneStore, companion_phone_store,
                      COMPANION, PHONE_STORE, GObject)

GQuark               companion_phone_store_error_quark    (void);

/* Opens (creating or migrating) STATE_DIR/phone.db and STATE_DIR/media. */
CompanionPhoneStore *companion_phone_store_open           (const char           *state_dir,
                                                           GError              **error);
const char          *companion_phone_store_get_state_dir  (CompanionPhoneStore  *self);

/* Applies CHANGES (CompanionChange, their seq ignored) in order, in one
 * transaction: each record is validated (companion_record_validate) and so
 * are its references — a message's chat, sender, media, reply (same chat)
 * and reaction contacts, a chat's and a call's participants, a media
 * record's file (present under media/ with the record's size). Deleting a
 * contact still referred to, or media a message shows, is refused; deleting
 * a chat deletes its messages, each logged as a change of its own. On any
 * error nothing is written. Returns the last sequence number assigned (the
 * current one when CHANGES is empty), 0 on error. */
guint64              companion_phone_store_apply          (CompanionPhoneStore  *self,
                                                           GPtrArray            *changes,
                                                           GError              **error);

/* Copies the file at PATH into media/ (streamed, hashed with BLAKE2b-256,
 * the copy re-hashed before it is named) and returns its hash as 64
 * lowercase hex digits. A file already there is kept. */
char                *companion_phone_store_add_media_file (CompanionPhoneStore  *self,
                                                           const char           *path,
                                                           GError              **error);
/* The same from memory. */
char                *companion_phone_store_add_media_bytes (CompanionPhoneStore *self,
                                                            GBytes              *bytes,
                                                            GError             **error);
/* STATE_DIR/media/HASH, whether or not it exists; NULL for a malformed hash. */
char                *companion_phone_store_get_media_path (CompanionPhoneStore  *self,
                                                           const char           *hash);

/* Keeps PATH, a complete file inside the media folder, as media/HASH when
 * its bytes hash (BLAKE2b-256) to HASH; otherwise, or on any error, PATH is
 * removed and COMPANION_PHONE_STORE_ERROR_MEDIA names the hash it has. */
gboolean             companion_phone_store_keep_media_file (CompanionPhoneStore *self,
                                                            const char          *path,
                                                            const char          *hash,
                                                            GError             **error);
/* Whether the store holds a media record HASH: 1 yes, 0 no, -1 on error. */
int                  companion_phone_store_has_media      (CompanionPhoneStore  *self,
                                                           const char           *hash,
                                                           GError              **error);

/* The change log. */
guint64              companion_phone_store_get_last_seq   (CompanionPhoneStore  *self);
/* At most LIMIT changes with seq > SEQ, oldest first (CompanionChange). */
GPtrArray           *companion_phone_store_get_changes_after (CompanionPhoneStore *self,
                                                              guint64              seq,
                                                              guint                limit,
                                                              GError             **error);

/* TRUE when the store holds no record and no change. */
gboolean             companion_phone_store_is_empty       (CompanionPhoneStore  *self,
                                                           GError              **error);

/* Counts of the current records of ENTITY; -1 on error. */
gint64               companion_phone_store_count          (CompanionPhoneStore  *self,
                                                           CompanionEntity       entity,
                                                           GError              **error);

/* The first sync reads these pages in this order (each a GPtrArray of
 * JsonObject records, canonical form). Read get_last_seq first: changes made
 * while the pages are read come after it in the log, and re-sent upserts are
 * idempotent, so the desktop converges.
 *
 * All contacts, by id. */
GPtrArray           *companion_phone_store_list_contacts  (CompanionPhoneStore  *self,
                                                           GError              **error);
/* All chats, by id; with LAST_MESSAGES_OUT, a parallel array with each chat's
 * newest message (by time, then id), NULL for a chat without messages. */
GPtrArray           *companion_phone_store_list_chats     (CompanionPhoneStore  *self,
                                                           GPtrArray           **last_messages_out,
                                                           GError              **error);
/* Messages of every chat, newest first (time, then id, descending), strictly
 * before (BEFORE_TIME, BEFORE_ID); BEFORE_ID NULL starts at the newest. Pass
 * the last message of a page to get the next one. */
GPtrArray           *companion_phone_store_list_messages_before (CompanionPhoneStore *self,
                                                                 gint64               before_time,
                                                                 const char          *before_id,
                                                                 guint                limit,
                                                                 GError             **error);
/* Calls by id after AFTER_ID (NULL: from the first), at most LIMIT. */
GPtrArray           *companion_phone_store_list_calls     (CompanionPhoneStore  *self,
                                                           const char           *after_id,
                                                           guint                 limit,
                                                           GError              **error);
/* Media records by hash after AFTER_HASH (NULL: from the first), at most LIMIT. */
GPtrArray           *companion_phone_store_list_media     (CompanionPhoneStore  *self,
                                                           const char           *after_hash,
                                                           guint                 limit,
                                                           GError              **error);

/* A stored record as its canonical JSON text, for the first sync, which
 * sends it as it is, without parsing it again. */
typedef struct
{
  char   *json;
  gsize   length;
  char   *key;    /* the id (the hash for media): where the next page starts */
  gint64  time;   /* a message's time; 0 for the other entities */
} CompanionRecordText;

void                 companion_record_text_free           (CompanionRecordText  *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompanionRecordText, companion_record_text_free)

/* The same pages as the list functions above, as CompanionRecordText:
 * media and calls by key after AFTER_KEY (NULL: from the first), messages
 * newest first strictly before (BEFORE_TIME, AFTER_KEY), at most LIMIT
 * (0: no limit). Contacts come whole (the other arguments are ignored). */
GPtrArray           *companion_phone_store_read_texts     (CompanionPhoneStore  *self,
                                                           CompanionEntity       entity,
                                                           gint64                before_time,
                                                           const char           *after_key,
                                                           guint                 limit,
                                                           GError              **error);
/* Every chat by id and, read in the same transaction, each chat's newest
 * message (the previews of the chat list), by chat id, and the media records
 * those previews show, by hash. */
GPtrArray           *companion_phone_store_read_chat_texts (CompanionPhoneStore *self,
                                                            GPtrArray          **previews_out,
                                                            GPtrArray          **preview_media_out,
                                                            GError             **error);

/* Every current record, for the canonical export (docs/records.md), read in
 * one read transaction. */
CompanionExport     *companion_phone_store_export         (CompanionPhoneStore  *self,
                                                           GError              **error);

G_END_DECLS
