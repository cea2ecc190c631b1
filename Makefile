# cnnlua: the front door. `make` builds, `make test` runs the specs, `make asan`
# runs them against an AddressSanitizer + UBSan build, `make bench` measures.
# Paths and tools may be overridden: make PREFIX=/opt/cnnlua LUA_INCDIR=...

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
INCDIR     ?= $(PREFIX)/include
LIBDIR     ?= $(PREFIX)/lib
LUA_CMODDIR ?= $(LIBDIR)/lua/5.4
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
VERSION     = 0.1.0
CC         ?= cc
PKG_CONFIG ?= pkg-config
LUA        ?= lua5.4
BUSTED     ?= /usr/bin/busted
OPT        ?= -O3
LUA_PC     ?= lua5.4
LUA_INCDIR ?= $(shell $(PKG_CONFIG) --cflags-only-I $(LUA_PC) 2>/dev/null | sed 's/-I//;s/ *$$//')
LUA_LIBS   ?= $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null)
DEP_CFLAGS  = $(shell $(PKG_CONFIG) --cflags openblas libpng zlib libdeflate 2>/dev/null)
DEP_LIBS    = $(shell $(PKG_CONFIG) --libs openblas libpng zlib libdeflate 2>/dev/null) -lm -lpthread

WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS ?= -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) $(CFLAGS) -I$(LUA_INCDIR) $(DEP_CFLAGS)

# The Debian packages the build and the tests need (`make deps` installs them).
DEBS = lua5.4 liblua5.4-dev libopenblas-dev libpng-dev zlib1g-dev libdeflate-dev lua-busted pkg-config valgrind \
       luarocks openmpi-bin libopenmpi-dev dataset-fashion-mnist

CORE_SRC = core/tensor.c core/elementwise.c core/reduce.c core/gemm.c core/random.c \
           core/im2col.c core/conv.c core/pool.c core/norm.c core/activation.c core/loss.c \
           core/idx.c core/pngio.c core/image.c core/parallel.c core/local.c \
           core/sgemm.c core/sgemm_avx512.c core/sgemm_avx2.c core/conv_direct.c core/conv_implicit.c core/conv_implicit_avx512.c core/conv_winograd.c core/conv_winograd4.c core/conv_packs.c
BIND_SRC = core/lcnn.c core/lcnn_tensor.c core/lcnn_math.c core/lcnn_conv.c core/lcnn_func.c core/lcnn_io.c \
           core/lcnn_host.c \
           core/lcnn_data.c
LIB_SRC  = $(CORE_SRC) $(BIND_SRC)
HEADERS  = $(wildcard core/*.h)
LUA_SRC  = $(sort $(shell find lua -name '*.lua'))

B = build
LIB_OBJ  = $(LIB_SRC:core/%.c=$(B)/obj/%.o) $(B)/obj/embed.o
ASAN_OBJ = $(LIB_SRC:core/%.c=$(B)/asan/%.o) $(B)/asan/embed.o
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SPEC_ENV = LUA_CPATH="$(CURDIR)/$(B)/?.so;;" \
  LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;"

.PHONY: all deps test train asan valgrind bench fixtures clean module examples tsan install install-module uninstall dist
all: $(B)/.deps cnnlua $(B)/libcnnlua.a $(B)/libcnnlua.so $(B)/cnn.so

# The Lua C module alone (what the rockspec builds; no dependency check).
module: $(B)/cnn.so

# Installs the missing Debian packages (as root), or says what to run.
deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing packages; run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi
	@mkdir -p $(B) && touch $(B)/.deps

$(B)/.deps:
	@$(MAKE) --no-print-directory deps

$(B)/obj/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/asan/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(ASAN_FLAGS) -c $< -o $@

# The Lua half of the library, compiled in (see core/lcnn_embed.h).
$(B)/embed.c: tools/embed.lua $(LUA_SRC)
	@mkdir -p $(B)
	$(LUA) tools/embed.lua $@ $(LUA_SRC)

$(B)/obj/embed.o: $(B)/embed.c core/lcnn_embed.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icore -c $< -o $@

$(B)/asan/embed.o: $(B)/embed.c core/lcnn_embed.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icore -O1 $(ASAN_FLAGS) -c $< -o $@

$(B)/libcnnlua.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The shared library for host programs records its Lua dependency; the Lua C
# module must not link Lua at all (the interpreter that loads it provides it).
$(B)/libcnnlua.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libcnnlua.so.0 -o $@ $^ $(LUA_LIBS) $(DEP_LIBS)
	ln -sf libcnnlua.so $(B)/libcnnlua.so.0


$(B)/cnn.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(DEP_LIBS)

cnnlua: $(B)/obj/cnnlua.o $(B)/libcnnlua.a
	$(CC) -o $@ $< $(B)/libcnnlua.a $(LUA_LIBS) $(DEP_LIBS)

$(B)/asan/cnnlua: $(B)/asan/cnnlua.o $(ASAN_OBJ)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LUA_LIBS) $(DEP_LIBS)

# The product's main job: train the default network on Fashion-MNIST
# (TRAIN_ARGS passes options: make train TRAIN_ARGS="--model cnn --augment").
train: all
	./cnnlua examples/train.lua $(TRAIN_ARGS)

# The MPI module under cnn.dist (the only part that links MPI).
MPICC     ?= mpicc
MPI_FLAGS  = $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LIBS   = $(shell $(MPICC) --showme:link 2>/dev/null)
dist: $(B)/cnn/mpi.so

$(B)/cnn/mpi.so: core/lmpi.c core/tensor.c core/tensor.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(MPI_FLAGS) -shared -o $@ core/lmpi.c core/tensor.c $(MPI_LIBS) -lpthread

# The C host programs of examples/embed, linked against the shared library.
EMBED_FLAGS = -Icore -I$(LUA_INCDIR) $(DEP_CFLAGS)
EMBED_LIBS  = -L$(B) -Wl,-rpath,$(CURDIR)/$(B) -lcnnlua $(LUA_LIBS) -lm -lpthread
examples: $(B)/examples/classify $(B)/examples/threads

$(B)/examples/%: examples/embed/%.c $(B)/libcnnlua.so core/cnnlua.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 $(WARN) $(EMBED_FLAGS) -o $@ $< $(EMBED_LIBS) $(shell $(PKG_CONFIG) --libs libpng)

# The two-thread example with the whole library under ThreadSanitizer.
TSAN_FLAGS = -fsanitize=thread -g -O1
$(B)/tsan/threads: examples/embed/threads.c $(LIB_SRC) $(B)/embed.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(TSAN_FLAGS) $(WARN) -Icore -I$(LUA_INCDIR) $(DEP_CFLAGS) -o $@ \
	  examples/embed/threads.c $(LIB_SRC) $(B)/embed.c $(LUA_LIBS) $(DEP_LIBS)

tsan: $(B)/tsan/threads
	TSAN_OPTIONS="halt_on_error=1" $(B)/tsan/threads

test: all examples dist
	$(SPEC_ENV) CNNLUA=$(CURDIR)/cnnlua $(LUA) $(BUSTED) $(SPECS)

# The same suite run by the sanitized interpreter (busted is a Lua script).
asan: $(B)/asan/cnnlua all examples
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$(SPEC_ENV) CNNLUA=$(CURDIR)/$(B)/asan/cnnlua $(B)/asan/cnnlua $(BUSTED) $(SPECS)

# The example scripts under valgrind: no invalid access, no leak.
VALGRIND = valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=3
valgrind: all
	$(VALGRIND) ./cnnlua examples/tensor_tour.lua >/dev/null
	$(VALGRIND) ./cnnlua examples/lenet.lua 3 >/dev/null
	@echo "valgrind: no errors, no leaks"

$(B)/bench_gemm: bench/bench_gemm.c $(B)/libcnnlua.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libcnnlua.a $(LUA_LIBS) $(DEP_LIBS)

# The benchmark suite; PyTorch runs side by side when /usr/bin/python3 imports it.
bench: all dist $(B)/bench_gemm
	$(B)/bench_gemm
	./cnnlua bench/bench.lua $(BENCH_ARGS)

# The PyTorch reference values the specs compare against (committed; CI needs no PyTorch).
fixtures:
	/usr/bin/python3 spec/fixtures/generate.py

install: all install-module
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 cnnlua $(DESTDIR)$(BINDIR)/cnnlua
	install -m 644 core/cnnlua.h $(DESTDIR)$(INCDIR)/cnnlua.h
	install -m 644 $(B)/libcnnlua.a $(DESTDIR)$(LIBDIR)/libcnnlua.a
	install -m 755 $(B)/libcnnlua.so $(DESTDIR)$(LIBDIR)/libcnnlua.so.$(VERSION)
	ln -sf libcnnlua.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcnnlua.so.0
	ln -sf libcnnlua.so.0 $(DESTDIR)$(LIBDIR)/libcnnlua.so
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCDIR)' '' \
	  'Name: cnnlua' 'Description: Lua-scriptable neural-network runtime' 'Version: $(VERSION)' \
	  'Requires: $(LUA_PC)' 'Libs: -L$${libdir} -lcnnlua' \
	  'Libs.private: $(DEP_LIBS)' 'Cflags: -I$${includedir}' > $(DESTDIR)$(PKGCONFIGDIR)/cnnlua.pc

install-module: $(B)/cnn.so
	install -d $(DESTDIR)$(LUA_CMODDIR)
	install -m 755 $(B)/cnn.so $(DESTDIR)$(LUA_CMODDIR)/cnn.so
	if [ -f $(B)/cnn/mpi.so ]; then install -d $(DESTDIR)$(LUA_CMODDIR)/cnn && \
	  install -m 755 $(B)/cnn/mpi.so $(DESTDIR)$(LUA_CMODDIR)/cnn/mpi.so; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cnnlua $(DESTDIR)$(INCDIR)/cnnlua.h $(DESTDIR)$(LIBDIR)/libcnnlua.a \
	  $(DESTDIR)$(LIBDIR)/libcnnlua.so $(DESTDIR)$(LIBDIR)/libcnnlua.so.0 $(DESTDIR)$(LIBDIR)/libcnnlua.so.$(VERSION) \
	  $(DESTDIR)$(PKGCONFIGDIR)/cnnlua.pc $(DESTDIR)$(LUA_CMODDIR)/cnn.so $(DESTDIR)$(LUA_CMODDIR)/cnn/mpi.so

clean:
	rm -rf $(B) cnnlua
