/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "test-process.h"

struct _TestProcess
{
  GSubprocess      *process;
  GDataInputStream *out;
  GString          *seen;
};

int
test_process_timeout_s (void)
{
  const char *override = g_getenv ("COMPANION_TEST_TIMEOUT");

  if (override != NULL && atoi (override) > 0)
    return atoi (override);
  return g_getenv ("COMPANION_TEST_SANITIZED") != NULL ? 90 : 20;
}

gboolean
test_process_sanitized (void)
{
  return g_getenv ("COMPANION_TEST_SANITIZED") != NULL;
}

void
test_process_isolated_env (const char *data_home,
                           const char *data_dirs)
{
  g_autofree char *keyring = g_build_filename (data_home, "keyring", NULL);

  /* libsecret's file backend: real storage, no D-Bus (NOTES.md). */
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", keyring, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "test keyring", TRUE);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_setenv ("XDG_DATA_DIRS", data_dirs, TRUE);
  /* Programs meet other programs' stray connections (a port the kernel
   * hands out again, as a port scan would): libsoup warns about a peer that
   * left at once, and that must not kill them. Criticals, our own broken
   * preconditions, stay fatal; in-process tests keep fatal warnings. */
  g_setenv ("G_DEBUG", "gc-friendly,fatal-criticals", TRUE);
}

static char *stderr_dir;
static guint n_started;
static goffset file_size_limit;

void
test_process_set_stderr_dir (const char *dir)
{
  g_free (stderr_dir);
  stderr_dir = g_strdup (dir);
}

void
test_process_set_file_size_limit (goffset bytes)
{
  file_size_limit = bytes;
}

/* A failed test must not leave programs behind holding its output open.
 * Runs between fork and exec: async-signal-safe calls only. */
static void
die_with_parent (gpointer user_data)
{
  goffset *limit = user_data;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (*limit > 0)
    {
      struct rlimit rlimit = { .rlim_cur = (rlim_t) *limit, .rlim_max = (rlim_t) *limit };

      signal (SIGXFSZ, SIG_IGN);
      setrlimit (RLIMIT_FSIZE, &rlimit);
    }
}

TestProcess *
test_process_start (const char *first, ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  TestProcess *self = g_new0 (TestProcess, 1);
  va_list args;

  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, g_memdup2 (&file_size_limit, sizeof file_size_limit),
                                         g_free);
  if (stderr_dir != NULL)
    {
      g_autofree char *name = g_strdup_printf ("stderr-%u.log", ++n_started);
      g_autofree char *path = g_build_filename (stderr_dir, name, NULL);

      g_subprocess_launcher_set_stderr_file_path (launcher, path);
    }
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  if (self->process == NULL)
    g_error ("Cannot start %s: %s", first, error->message);
  self->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));
  self->seen = g_string_new (NULL);
  return self;
}

static gboolean
keep_awake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  char **line = user_data;
  g_autoptr(GError) error = NULL;

  *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (*line == NULL)
    *line = g_strdup ("");
}

JsonObject *
test_process_wait_event (TestProcess *self,
                         const char  *event)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) test_process_timeout_s () * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *line = NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *object;
      guint tick;

      g_data_input_stream_read_line_async (self->out, G_PRIORITY_DEFAULT, NULL, on_line, &line);
      /* A tick, so the deadline is checked even when nothing arrives. */
      tick = g_timeout_add (50, keep_awake, NULL);
      while (line == NULL)
        {
          if (g_get_monotonic_time () > deadline)
            g_error ("Timed out waiting for “%s”; seen so far:\n%s", event, self->seen->str);
          g_main_context_iteration (NULL, TRUE);
        }
      g_source_remove (tick);
      if (*line == '\0')
        g_error ("The program ended before “%s”; seen so far:\n%s", event, self->seen->str);
      g_string_append_printf (self->seen, "%s\n", line);
      if (!json_parser_load_from_data (parser, line, -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        g_error ("Not a JSON event: %s", line);
      object = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", NULL), event) == 0)
        return json_object_ref (object);
    }
}

void
test_process_send (TestProcess *self,
                   const char  *line)
{
  GOutputStream *in = g_subprocess_get_stdin_pipe (self->process);
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all (in, line, strlen (line), NULL, NULL, &error) ||
      !g_output_stream_write_all (in, "\n", 1, NULL, NULL, &error) ||
      !g_output_stream_flush (in, NULL, &error))
    g_error ("Cannot write to the program: %s", error->message);
}

const char *
test_process_get_output (TestProcess *self)
{
  return self->seen->str;
}

int
test_process_finish (TestProcess *self)
{
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_subprocess_wait (self->process, NULL, &error))
    g_error ("Cannot wait for the program: %s", error->message);
  status = g_subprocess_get_if_exited (self->process) ? g_subprocess_get_exit_status (self->process) : -1;
  g_object_unref (self->out);
  g_object_unref (self->process);
  g_string_free (self->seen, TRUE);
  g_free (self);
  return status;
}

void
test_process_kill (TestProcess *self)
{
  g_subprocess_send_signal (self->process, SIGKILL);
  g_subprocess_wait (self->process, NULL, NULL);
  g_object_unref (self->out);
  g_object_unref (self->process);
  g_string_free (self->seen, TRUE);
  g_free (self);
}

gint64
test_process_peak_rss_kib (TestProcess *self)
{
  const char *pid = g_subprocess_get_identifier (self->process);
  g_autofree char *path = NULL;
  g_autofree char *status = NULL;
  const char *line;

  if (pid == NULL)
    return -1;
  path = g_strdup_printf ("/proc/%s/status", pid);
  if (!g_file_get_contents (path, &status, NULL, NULL) || (line = strstr (status, "VmHWM:")) == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen ("VmHWM:"), NULL, 10);
}

void
test_process_drain (TestProcess *self)
{
  g_autoptr(GError) error = NULL;
  char *line;

  /* Blocking: the caller has asked the program to end. */
  while ((line = g_data_input_stream_read_line_utf8 (self->out, NULL, NULL, &error)) != NULL)
    {
      g_string_append_printf (self->seen, "%s\n", line);
      g_free (line);
    }
}

int
test_process_get_pid (TestProcess *self)
{
  const char *pid = g_subprocess_get_identifier (self->process);

  return pid != NULL ? atoi (pid) : -1;
}

const char *
test_process_program (const char *variable)
{
  const char *path = g_getenv (variable);

  g_assert_nonnull (path);
  return path;
}

char *
test_process_export (const char *program_path,
                     const char *state_dir)
{
  const char *argv[] = { program_path, "export", "--state-dir", state_dir, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  char *out = NULL;

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  return out;
}

JsonObject *
test_process_wait_up_to_date (TestProcess *desktop)
{
  for (;;)
    {
      JsonObject *event = test_process_wait_event (desktop, "synced");

      if (json_object_get_boolean_member (event, "up_to_date"))
        return event;
      json_object_unref (event);
    }
}
