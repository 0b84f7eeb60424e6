/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-chat-item.h"
#include "companion-engine.h"
#include "companion-message-list.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_CONVERSATION_VIEW (companion_conversation_view_get_type ())

G_DECLARE_FINAL_TYPE (CompanionConversationView, companion_conversation_view,
                      COMPANION, CONVERSATION_VIEW, GtkWidget)

/* One chat: its messages (older pages read as the view nears the top; new
 * ones keep the view at the bottom when it was there) and the composer
 * (Enter sends, Shift+Enter starts a line; a file is attached with the
 * button or dropped). Media open on click: images in a viewer, other files
 * with the default app, after downloading with progress. The back button
 * (action "win.show-chats") shows when the window is folded. */
GtkWidget            *companion_conversation_view_new        (CompanionEngine           *engine);
/* Shows CHAT (NULL: none) and marks it read on the phone. */
void                  companion_conversation_view_set_chat   (CompanionConversationView *self,
                                                              CompanionChatItem         *chat);
CompanionChatItem    *companion_conversation_view_get_chat   (CompanionConversationView *self);
void                  companion_conversation_view_set_folded (CompanionConversationView *self,
                                                              gboolean                   folded);
/* Reads the messages again (after a sync). */
void                  companion_conversation_view_refresh    (CompanionConversationView *self);
CompanionMessageList *companion_conversation_view_get_messages (CompanionConversationView *self);
GtkListView          *companion_conversation_view_get_list_view (CompanionConversationView *self);
GtkTextView          *companion_conversation_view_get_composer  (CompanionConversationView *self);
/* Queues FILE for the chat shown, as the attach button and a drop do. */
void                  companion_conversation_view_send_file  (CompanionConversationView *self,
                                                              GFile                     *file);

G_END_DECLS
