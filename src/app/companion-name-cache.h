/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_NAME_CACHE (companion_name_cache_get_type ())

G_DECLARE_FINAL_TYPE (CompanionNameCache, companion_name_cache, COMPANION, NAME_CACHE, GObject)

/* The chats and contacts that views and notifications name, read once
 * through READER and kept: a call log or a page of search results names
 * the same few people many times. */
CompanionNameCache *companion_name_cache_new             (CompanionMirrorReader *reader);
/* Reads the chats CHAT_IDS and contacts CONTACT_IDS (either may be NULL)
 * that are not known yet, and the contact of each direct chat among them. */
void                companion_name_cache_resolve_async   (CompanionNameCache    *self,
                                                          const char * const    *chat_ids,
                                                          const char * const    *contact_ids,
                                                          GCancellable          *cancellable,
                                                          GAsyncReadyCallback    callback,
                                                          gpointer               user_data);
gboolean            companion_name_cache_resolve_finish  (CompanionNameCache    *self,
                                                          GAsyncResult          *result,
                                                          GError               **error);
/* The contact's name, or ID itself when the mirror has no such contact. */
const char         *companion_name_cache_get_contact_name (CompanionNameCache   *self,
                                                           const char           *id);
/* The chat record, or NULL when it is not known. */
JsonObject         *companion_name_cache_get_chat        (CompanionNameCache    *self,
                                                          const char            *id);
/* The chat's title, or for a direct chat without one, its contact's name. */
const char         *companion_name_cache_get_chat_title  (CompanionNameCache    *self,
                                                          const char            *id);
/* Forgets the chats and contacts that CHANGES (CompanionChange *) touch. */
void                companion_name_cache_forget_changed  (CompanionNameCache    *self,
                                                          GPtrArray             *changes);

G_END_DECLS
