/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-desktop-server.h"
#include "companion-desktop-sync.h"
#include "companion-media-transfer.h"
#include "companion-mirror-reader.h"
#include "companion-mirror-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_ENGINE (companion_engine_get_type ())

G_DECLARE_FINAL_TYPE (CompanionEngine, companion_engine, COMPANION, ENGINE, GObject)

/* The desktop engine as the window uses it, assembled as companion-cli
 * assembles it: the server, the mirror it writes (on the main thread, in
 * one short transaction per page or batch), desktop sync, media transfer
 * with the auto-download limit from GSettings, and a reader that answers
 * the UI's queries on its own thread. The phone reconnects to the server
 * whenever it is in reach; sync and media resume by themselves. */
CompanionEngine        *companion_engine_new        (CompanionDesktopServer *server,
                                                     const char             *state_dir,
                                                     GError                **error);
CompanionDesktopServer *companion_engine_get_server (CompanionEngine        *self);
CompanionMirrorStore   *companion_engine_get_mirror (CompanionEngine        *self);
CompanionDesktopSync   *companion_engine_get_sync   (CompanionEngine        *self);
CompanionMediaTransfer *companion_engine_get_media  (CompanionEngine        *self);
CompanionMirrorReader  *companion_engine_get_reader (CompanionEngine        *self);
/* Whether the mirror has ever finished a first sync. */
gboolean                companion_engine_has_synced (CompanionEngine        *self);

G_END_DECLS
