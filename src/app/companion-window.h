/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-chat-list.h"
#include "companion-conversation-view.h"
#include "companion-engine.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_WINDOW (companion_window_get_type ())

G_DECLARE_FINAL_TYPE (CompanionWindow, companion_window, COMPANION, WINDOW, AdwApplicationWindow)

/* ENGINE is the desktop engine this window shows: the pairing code while
 * unpaired, else the chats beside the conversation (folding to one at a
 * time on a narrow screen) under the connection and sync state.
 * KEY_STORE_WARNING, when not NULL, says where the keys are kept instead
 * of the Secret Service. */
CompanionWindow           *companion_window_new                (AdwApplication  *application,
                                                                CompanionEngine *engine,
                                                                const char      *key_store_warning);
void                       companion_window_show_error         (CompanionWindow *self,
                                                                const char      *message);
CompanionEngine           *companion_window_get_engine         (CompanionWindow *self);
CompanionChatList         *companion_window_get_chat_list      (CompanionWindow *self);
GtkListView               *companion_window_get_chat_list_view (CompanionWindow *self);
CompanionConversationView *companion_window_get_conversation   (CompanionWindow *self);
/* The connection and sync state as the window shows it. */
const char                *companion_window_get_status         (CompanionWindow *self);
/* Shows the chat at POSITION of the chat list, as a click does. */
void                       companion_window_open_chat          (CompanionWindow *self,
                                                                guint            position);

/* Shows the chat CHAT_ID and, when MESSAGE_ID is not NULL, scrolls to
 * that message once it is read (for search results and notifications). */
void                       companion_window_open_chat_id       (CompanionWindow *self,
                                                                const char      *chat_id,
                                                                const char      *message_id);
/* Shows the search beside the chats, searching for TEXT. */
void                       companion_window_search             (CompanionWindow *self,
                                                                const char      *text);
/* Shows the sidebar's "chats", "calls" or "search" view. */
void                       companion_window_show_sidebar_view  (CompanionWindow *self,
                                                                const char      *name);

G_END_DECLS
