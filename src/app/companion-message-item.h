/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define COMPANION_TYPE_MESSAGE_ITEM (companion_message_item_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMessageItem, companion_message_item, COMPANION, MESSAGE_ITEM, GObject)

/* One message of a conversation: its record (docs/records.md) and what the
 * row needs beside it, filled in as the reads come back: the sender's
 * name, the quoted message, the media record, and where the row stands
 * (first of its day, first of a run by one sender). A pending item is a
 * "message-out" still in the outbox: the phone has not carried it out yet.
 * "changed" tells the row to show it again. */
CompanionMessageItem *companion_message_item_new             (JsonObject           *record);
CompanionMessageItem *companion_message_item_new_pending     (const char           *client_id,
                                                              const char           *chat_id,
                                                              const char           *text,
                                                              gint64                created);
/* Takes the new state of the same message; emits "changed" if it differs. */
void                  companion_message_item_update          (CompanionMessageItem *self,
                                                              JsonObject           *record);
JsonObject           *companion_message_item_get_record      (CompanionMessageItem *self);
const char           *companion_message_item_get_id          (CompanionMessageItem *self);
gint64                companion_message_item_get_time        (CompanionMessageItem *self);
/* The sender's contact id, NULL for the phone's owner. */
const char           *companion_message_item_get_from        (CompanionMessageItem *self);
gboolean              companion_message_item_is_outgoing     (CompanionMessageItem *self);
gboolean              companion_message_item_is_pending      (CompanionMessageItem *self);
const char           *companion_message_item_get_media_hash  (CompanionMessageItem *self);
const char           *companion_message_item_get_reply_to    (CompanionMessageItem *self);

const char           *companion_message_item_get_sender_name (CompanionMessageItem *self);
void                  companion_message_item_set_sender_name (CompanionMessageItem *self,
                                                              const char           *name);
/* The media record, once read; NULL before or without media. */
JsonObject           *companion_message_item_get_media       (CompanionMessageItem *self);
void                  companion_message_item_set_media       (CompanionMessageItem *self,
                                                              JsonObject           *media);
/* The record of the message replied to, once read. */
JsonObject           *companion_message_item_get_quoted      (CompanionMessageItem *self);
void                  companion_message_item_set_quoted      (CompanionMessageItem *self,
                                                              JsonObject           *quoted);
gboolean              companion_message_item_starts_day      (CompanionMessageItem *self);
gboolean              companion_message_item_shows_sender    (CompanionMessageItem *self);
void                  companion_message_item_set_place       (CompanionMessageItem *self,
                                                              gboolean              starts_day,
                                                              gboolean              shows_sender);
/* Download progress of the media, 0–1, or -1 when none is under way. */
double                companion_message_item_get_download    (CompanionMessageItem *self);
void                  companion_message_item_set_download    (CompanionMessageItem *self,
                                                              double                fraction);

G_END_DECLS
