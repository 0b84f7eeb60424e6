/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deletes PATH and, for a folder, everything in it; never follows links. */
void        test_util_remove_tree (const char *path);
/* The JSON object in TEXT; fails the test if TEXT is not one. */
JsonObject *test_util_json_object (const char *text);

/* A TCP port on 127.0.0.1 that was free a moment ago: an explicit port,
 * so a test never takes the default port a running desktop uses. */
guint16     test_util_free_port   (void);

G_END_DECLS
