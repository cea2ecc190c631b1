/*
 * cnnlua.c: the cnnlua program, a Lua 5.4 interpreter with the cnn library
 * preloaded as the global `cnn`. It behaves like the stock `lua` program:
 *
 *     cnnlua [options] [script [args...]]
 *
 * `arg` holds the script name at index 0, its arguments at 1..n, and the
 * interpreter and options at negative indices. Every chunk runs under
 * lua_pcall with a traceback handler; Ctrl-C interrupts a running chunk with
 * a Lua error (through a hook, the only thing a signal handler may safely set).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cnnlua.h"

static const char *progname = "cnnlua";
static lua_State *running; /* the state a signal handler interrupts */

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -v        show version information\n"
          "  -h        show this help\n"
          "  --        stop handling options\n"
          "  -         execute stdin and stop handling options\n"
          "The cnn library is preloaded as the global 'cnn'.\n",
          progname);
}

static void print_version(void) {
  printf("cnnlua %s (%s)\n", CNNLUA_VERSION, LUA_RELEASE);
}

static void report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
}

/* Message handler: adds a traceback to the error message. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void interrupted(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
  lua_sethook(running, interrupted, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int docall(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  running = L;
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, nargs, nresults, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static int dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name);
  if (status == LUA_OK) status = docall(L, 0, 0);
  report(L, status);
  return status;
}

static int dolibrary(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, name);
  report(L, status);
  return status;
}

/* Runs the script (NULL: stdin) with the arguments arg[1..n] as varargs. */
static int doscript(lua_State *L, const char *fname) {
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    lua_getglobal(L, "arg");
    int n = 0;
    if (lua_istable(L, -1)) {
      n = (int)luaL_len(L, -1);
      luaL_checkstack(L, n + 3, "too many arguments to script");
      for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    }
    lua_remove(L, -n - 1);
    status = docall(L, n, LUA_MULTRET);
  }
  report(L, status);
  return status;
}

/* arg = { [-k] = interpreter and options, [0] = script, [1..] = its arguments } */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0; /* no script: the interpreter is arg[0] */
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* ---- interactive mode ---- */

static bool read_line(lua_State *L, bool first) {
  char buf[4096];
  fputs(first ? "> " : ">> ", stdout);
  fflush(stdout);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  bool got = false;
  while (fgets(buf, sizeof buf, stdin)) {
    got = true;
    size_t len = strlen(buf);
    bool end = len > 0 && buf[len - 1] == '\n';
    luaL_addlstring(&b, buf, end ? len - 1 : len);
    if (end) break;
  }
  luaL_pushresult(&b);
  if (!got) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

/* Whether a syntax error only says that the chunk is not finished yet. */
static bool incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return false;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

/* Compiles the line on top as "return <line>" (an expression to print) or as
 * statements, reading continuation lines while the chunk is incomplete.
 * Leaves the function (or an error message) on top, the source removed. */
static int load_input(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *ret = lua_pushfstring(L, "return %s", line);
  int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2); /* the "return" string */
    lua_remove(L, -2); /* the line */
    return status;
  }
  lua_pop(L, 2);
  for (;;) {
    size_t len;
    const char *src = lua_tolstring(L, -1, &len);
    status = luaL_loadbuffer(L, src, len, "=stdin");
    if (!incomplete(L, status)) break;
    lua_pop(L, 1);
    if (!read_line(L, false)) break;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
  lua_remove(L, -2);
  return status;
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK)
    fprintf(stderr, "%s: error calling 'print' (%s)\n", progname, lua_tostring(L, -1));
}

static void repl(lua_State *L) {
  for (;;) {
    lua_settop(L, 0);
    if (!read_line(L, true)) break;
    int status = load_input(L);
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) print_results(L);
    else report(L, status);
  }
  lua_settop(L, 0);
  fputc('\n', stdout);
}

/* ---- main ---- */

typedef struct {
  lua_State *L;
  int argc;
  char **argv;
  int status;
} runner;

/* Everything runs inside this protected function, so that errors raised while
 * setting up (memory, bad -l) are reported like any other. */
static int pmain(lua_State *L) {
  runner *r = lua_touserdata(L, 1);
  int argc = r->argc, script = argc;
  char **argv = r->argv;
  bool interactive = false, version = false, has_e = false;
  for (int i = 1; i < argc; i++) { /* first pass: validate options, find the script */
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      script = i;
      break;
    }
    if (strcmp(a, "--") == 0) {
      script = i + 1;
      break;
    }
    if (strcmp(a, "-i") == 0) interactive = version = true;
    else if (strcmp(a, "-v") == 0) version = true;
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
      has_e = has_e || a[1] == 'e';
      if (++i >= argc) {
        fprintf(stderr, "%s: '%s' needs argument\n", progname, a);
        usage(stderr);
        r->status = 1;
        return 0;
      }
    } else if ((a[1] == 'e' || a[1] == 'l') && a[2]) {
      has_e = has_e || a[1] == 'e';
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
      usage(stderr);
      r->status = 1;
      return 0;
    }
  }
  luaL_openlibs(L);
  luaL_requiref(L, "cnn", luaopen_cnn, 1);
  lua_pop(L, 1);
  createargtable(L, argv, argc, script);
  if (version) print_version();
  for (int i = 1; i < script; i++) { /* second pass: run -e and -l in order */
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) break;
    if (a[1] != 'e' && a[1] != 'l') continue;
    const char *val = a[2] ? a + 2 : argv[++i];
    int status = a[1] == 'e' ? dostring(L, val, "=(command line)") : dolibrary(L, val);
    if (status != LUA_OK) {
      r->status = 1;
      return 0;
    }
  }
  if (script < argc) {
    const char *fname = strcmp(argv[script], "-") == 0 && strcmp(argv[script - 1], "--") != 0 ? NULL : argv[script];
    if (doscript(L, fname) != LUA_OK) {
      r->status = 1;
      return 0;
    }
  }
  if (interactive) {
    repl(L);
  } else if (script == argc && !has_e && !version) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      repl(L);
    } else if (doscript(L, NULL) != LUA_OK) {
      r->status = 1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argv[0] && argv[0][0]) progname = argv[0];
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  runner r = {L, argc, argv, 0};
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &r);
  int status = lua_pcall(L, 1, 0, 0);
  report(L, status);
  lua_close(L);
  return status == LUA_OK && r.status == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
