/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-sync.h"
#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_NOTIFIER (companion_notifier_get_type ())

G_DECLARE_FINAL_TYPE (CompanionNotifier, companion_notifier, COMPANION, NOTIFIER, GObject)

/* Sends APPLICATION's desktop notifications for what SYNC applies live:
 * incoming messages (one notification a chat, replaced by the next) and
 * missed calls, only while none of the application's windows has the
 * focus, never for muted chats, never for the first sync or for what was
 * already there when it started, and not at all while SETTINGS (may be
 * NULL: the schema's default, on) turns notifications off. Names and
 * titles come through READER. Activating a message's notification runs
 * "app.open-chat" with the chat id; a missed call's, "app.show-calls". */
CompanionNotifier *companion_notifier_new (GApplication          *application,
                                           CompanionDesktopSync  *sync,
                                           CompanionMirrorReader *reader,
                                           GSettings             *settings);

G_END_DECLS
