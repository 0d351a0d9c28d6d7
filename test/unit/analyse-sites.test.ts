import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePatterns, defaultPlumbingPatterns, describeFrame, isPlumbing, qualifiedName, siteFrameIndex,
  withoutTemplateArguments,
} from '../../src/analyse/sites.js';
import type { HeapProfileFrame } from '../../src/pprof/index.js';

const frame = (functionName: string, extra: Partial<HeapProfileFrame> = {}): HeapProfileFrame => ({ functionName, ...extra });
const stackOf = (...names: string[]): HeapProfileFrame[] => names.map((n) => frame(n));
const plumbing = (name: string): boolean => isPlumbing(frame(name), defaultPlumbingPatterns);

// Names as c++filt / llvm-symbolizer print them for GCC 12 / libstdc++ builds.
const M_CONSTRUCT = 'void std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_construct<char const*>(char const*, char const*, std::forward_iterator_tag)';
const RB_GET_NODE = 'std::_Rb_tree<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session>, std::_Select1st<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> >, std::less<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > >, std::allocator<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> > >::_M_get_node()';
const RB_CREATE_NODE = 'std::_Rb_tree_node<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> >* std::_Rb_tree<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session>, std::_Select1st<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> >, std::less<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > >, std::allocator<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> > >::_M_create_node<std::piecewise_construct_t const&, std::tuple<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&>, std::tuple<> >(std::piecewise_construct_t const&, std::tuple<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&>&&, std::tuple<>&&)';
const MAP_INDEX = 'std::map<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, Session, std::less<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > >, std::allocator<std::pair<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const, Session> > >::operator[](std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)';

describe('withoutTemplateArguments', () => {
  test('drops nested template arguments but keeps the brackets', () => {
    assert.equal(withoutTemplateArguments('std::map<K, std::vector<V> >::find<X>'), 'std::map<>::find<>');
    assert.equal(withoutTemplateArguments('plain::name(int)'), 'plain::name(int)');
  });

  test('comparison and shift operators are names, not brackets', () => {
    assert.equal(withoutTemplateArguments('Foo::operator<(Foo const&) const'), 'Foo::operator<(Foo const&) const');
    assert.equal(withoutTemplateArguments('Foo::operator>(Foo const&) const'), 'Foo::operator>(Foo const&) const');
    assert.equal(withoutTemplateArguments('Foo<int>::operator->() const'), 'Foo<>::operator->() const');
    assert.equal(withoutTemplateArguments('Foo::operator>>(int)'), 'Foo::operator>>(int)');
  });
});

describe('qualifiedName', () => {
  test('drops the return type, template arguments and parameters of a demangled template function', () => {
    assert.equal(qualifiedName(M_CONSTRUCT), 'std::__cxx11::basic_string<>::_M_construct<>');
    assert.equal(qualifiedName(RB_CREATE_NODE), 'std::_Rb_tree<>::_M_create_node<>');
    assert.equal(qualifiedName(RB_GET_NODE), 'std::_Rb_tree<>::_M_get_node');
  });

  test('a std:: return type does not make a user function look like the standard library', () => {
    assert.equal(qualifiedName('std::vector<int, std::allocator<int> > mylib::make<int>()'), 'mylib::make<>');
    assert.equal(qualifiedName('std::unique_ptr<Session, std::default_delete<Session> > (anonymous namespace)::open_session(int)'),
      '(anonymous namespace)::open_session');
  });

  test('and a user return type does not hide the standard library function', () => {
    assert.equal(qualifiedName('mylib::Foo* std::__new_allocator<mylib::Foo>::allocate(unsigned long, void const*)'),
      'std::__new_allocator<>::allocate');
  });

  test('operators', () => {
    assert.equal(qualifiedName('operator new(unsigned long)'), 'operator new');
    assert.equal(qualifiedName('operator new[](unsigned long)'), 'operator new[]');
    assert.equal(qualifiedName('operator delete(void*, unsigned long)'), 'operator delete');
    assert.equal(qualifiedName('Foo::operator<(Foo const&) const'), 'Foo::operator<');
    assert.equal(qualifiedName('Foo::operator<=>(Foo const&) const'), 'Foo::operator<=>');
    assert.equal(qualifiedName('Foo::operator>>(int)'), 'Foo::operator>>');
    assert.equal(qualifiedName('Foo::operator bool() const'), 'Foo::operator bool');
    assert.equal(qualifiedName('CHeapObj<(MEMFLAGS)7>::operator new(unsigned long)'), 'CHeapObj<>::operator new');
    assert.match(qualifiedName('std::basic_ostream<char, std::char_traits<char> >& std::operator<< <std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, char const*)'),
      /^std::operator<< ?(<>)?$/);
  });

  test('the call operator keeps its name', () => {
    assert.equal(qualifiedName('mylib::Pool::operator()(unsigned long)'), 'mylib::Pool::operator()');
  });

  test('anonymous namespaces, destructors, plain C names', () => {
    assert.equal(qualifiedName('(anonymous namespace)::Foo::bar(int)'), '(anonymous namespace)::Foo::bar');
    assert.equal(qualifiedName('Foo::~Foo()'), 'Foo::~Foo');
    assert.equal(qualifiedName('remember_session_forever'), 'remember_session_forever');
    assert.equal(qualifiedName('mylib::Cache<std::map<int, int>, 3>::insert(int) const'), 'mylib::Cache<>::insert');
  });

  test('unsymbolized addresses are kept verbatim', () => {
    assert.equal(qualifiedName('libfoo.so+0x12ab'), 'libfoo.so+0x12ab');
    assert.equal(qualifiedName('0x7f00deadbeef'), '0x7f00deadbeef');
    assert.equal(qualifiedName('libstdc++.so.6+0x9f0AB'), 'libstdc++.so.6+0x9f0AB');
  });
});

describe('isPlumbing with the default patterns', () => {
  test('the malloc family and libc helpers', () => {
    for (const name of ['malloc', 'calloc', 'realloc', 'reallocarray', 'posix_memalign', 'aligned_alloc', 'memalign',
      'valloc', 'pvalloc', '__libc_malloc', '__libc_calloc', 'strdup', 'strndup', '__strdup', 'asprintf', 'vasprintf',
      'getline', 'getdelim', 'open_memstream', 'zcalloc']) {
      assert.ok(plumbing(name), name);
    }
  });

  test('C++ allocation and the standard library', () => {
    for (const name of ['operator new(unsigned long)', 'operator new[](unsigned long)',
      'operator new(unsigned long, std::align_val_t)', M_CONSTRUCT, RB_GET_NODE, RB_CREATE_NODE, MAP_INDEX,
      '__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)', '__cxa_allocate_exception',
      'mylib::Foo* std::__new_allocator<mylib::Foo>::allocate(unsigned long, void const*)']) {
      assert.ok(plumbing(name), name);
    }
  });

  test("HotSpot's allocation wrappers", () => {
    for (const name of ['os::malloc(unsigned long, MEMFLAGS, NativeCallStack const&)', 'os::realloc(void*, unsigned long, MEMFLAGS)',
      'os::strdup(char const*, MEMFLAGS)', 'AllocateHeap(unsigned long, MEMFLAGS, AllocFailStrategy::AllocFailEnum)',
      'ReallocateHeap(char*, unsigned long, MEMFLAGS, AllocFailStrategy::AllocFailEnum)',
      'CHeapObj<(MEMFLAGS)7>::operator new(unsigned long)', 'Arena::grow(unsigned long, AllocFailStrategy::AllocFailEnum)',
      'ChunkPool::allocate(unsigned long, AllocFailStrategy::AllocFailEnum)']) {
      assert.ok(plumbing(name), name);
    }
  });

  test('user code is not plumbing, even when its name mentions an allocator', () => {
    for (const name of ['remember_session_forever', 'leak_via_strdup', 'my_malloc_wrapper', 'mallocx_pool_grow',
      'std::vector<int, std::allocator<int> > mylib::make<int>()', '(anonymous namespace)::Foo::bar(int)',
      'Foo::operator<(Foo const&) const', 'SymbolTable::create_table()', 'os::javaTimeMillis()',
      'Java_com_example_SessionRegistry_remember', 'libfoo.so+0x12ab', '0x7f00deadbeef', 'main']) {
      assert.ok(!plumbing(name), name);
    }
  });

  test('frames the profile writer makes up are plumbing', () => {
    assert.ok(plumbing('[unknown]'));
    assert.ok(plumbing('[stack table overflow]'));
  });
});

describe('siteFrameIndex with the default patterns', () => {
  test('a std::map insert from JNI: the site is the function that inserted', () => {
    const stack = stackOf('malloc', 'operator new(unsigned long)', RB_GET_NODE, RB_CREATE_NODE, MAP_INDEX,
      'remember_session_forever(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)',
      'Java_com_example_SessionRegistry_remember', 'libjvm.so+0x8a2f10', '0x7f3a2c01d4e2');
    assert.equal(siteFrameIndex(stack, defaultPlumbingPatterns), 5);
  });

  test('strdup from user code', () => {
    assert.equal(siteFrameIndex(stackOf('strdup', 'leak_via_strdup', 'main', '__libc_start_call_main'), defaultPlumbingPatterns), 1);
    assert.equal(siteFrameIndex(stackOf('__strdup', 'leak_via_strdup', 'main'), defaultPlumbingPatterns), 1);
  });

  test("HotSpot's own allocations land on the VM function that asked", () => {
    const stack = stackOf('os::malloc(unsigned long, MEMFLAGS, NativeCallStack const&)',
      'os::malloc(unsigned long, MEMFLAGS)',
      'AllocateHeap(unsigned long, MEMFLAGS, AllocFailStrategy::AllocFailEnum)',
      'SymbolTable::create_table()', 'universe_init()', 'init_globals()', 'Threads::create_vm(JavaVMInitArgs*, bool*)');
    assert.equal(siteFrameIndex(stack, defaultPlumbingPatterns), 3);
  });

  test('a std::string built by user code is charged to that code', () => {
    const stack = stackOf('malloc', 'operator new(unsigned long)', M_CONSTRUCT,
      'std::vector<int, std::allocator<int> > mylib::make<int>()', 'main');
    assert.equal(siteFrameIndex(stack, defaultPlumbingPatterns), 3);
  });

  test('a stack that is all plumbing falls back to the innermost frame, and so does an empty stack', () => {
    assert.equal(siteFrameIndex(stackOf('malloc', 'operator new(unsigned long)', M_CONSTRUCT), defaultPlumbingPatterns), 0);
    assert.equal(siteFrameIndex([], defaultPlumbingPatterns), 0);
  });

  test('the first frame is the site when it is not plumbing', () => {
    assert.equal(siteFrameIndex(stackOf('libfoo.so+0x12ab', 'malloc'), defaultPlumbingPatterns), 0);
  });

  test('user-supplied patterns replace the defaults', () => {
    const patterns = compilePatterns(['^malloc$', '^mylib::Pool::']);
    const stack = stackOf('malloc', 'mylib::Pool::grow(unsigned long)', 'operator new(unsigned long)', 'handler(int)');
    assert.equal(siteFrameIndex(stack, patterns), 2);
    assert.equal(siteFrameIndex(stack, defaultPlumbingPatterns), 1);
    assert.equal(siteFrameIndex(stack, []), 0);
  });
});

describe('describeFrame', () => {
  test('file base name and line when the line is known', () => {
    assert.equal(describeFrame(frame('leak_via_strdup', { fileName: '/src/fixtures/native/leaky_apis.c', line: 42, mappingFile: '/build/leaky_apis' })),
      'leak_via_strdup (leaky_apis.c:42)');
    assert.equal(describeFrame(frame('f', { fileName: 'relative.cc', line: 7 })), 'f (relative.cc:7)');
  });

  test('the mapped object when no line is known', () => {
    assert.equal(describeFrame(frame('SymbolTable::create_table()', { mappingFile: '/usr/lib/jvm/lib/server/libjvm.so' })),
      'SymbolTable::create_table() (libjvm.so)');
    assert.equal(describeFrame(frame('g', { fileName: '/src/g.c', mappingFile: '/lib/libg.so' })), 'g (libg.so)');
    assert.equal(describeFrame(frame('g', { fileName: '/src/g.c', line: 0, mappingFile: '/lib/libg.so' })), 'g (libg.so)');
  });

  test('an unsymbolized object+offset name already names its object', () => {
    assert.equal(describeFrame(frame('libfoo.so+0x12ab', { mappingFile: '/opt/lib/libfoo.so' })), 'libfoo.so+0x12ab');
  });

  test('the bare name when nothing else is known', () => {
    assert.equal(describeFrame(frame('0x7f00deadbeef')), '0x7f00deadbeef');
    assert.equal(describeFrame(frame('main', { fileName: '/src/main.c' })), 'main');
  });
});

describe('runtimes: their allocators are plumbing, their own code is library, the program\'s frames are the site', () => {
  const node = (name: string) => frame(name, { mappingFile: '/usr/bin/node' });
  const js = (name: string, fileName: string) => frame(name, { fileName, line: 3 });
  const python = (name: string) => frame(name, { mappingFile: '/usr/bin/python3.12' });

  test('node: past the ArrayBuffer allocator, V8, the builtins and node\'s own JavaScript, to the program\'s function', () => {
    const stack = [
      node('node::NodeArrayBufferAllocator::AllocateUninitialized(unsigned long)'),
      node('v8::internal::Heap::AllocateExternalBackingStore(std::function<void* (unsigned long)> const&, unsigned long)'),
      node('v8::ArrayBuffer::NewBackingStoreForNodeLTS(v8::Isolate*, unsigned long)'),
      node('node::Buffer::(anonymous namespace)::CreateUnsafeArrayBuffer(v8::FunctionCallbackInfo<v8::Value> const&)'),
      node('v8::internal::MaybeHandle<v8::internal::Object> v8::internal::(anonymous namespace)::HandleApiCallHelper<false>(v8::internal::Isolate*)'),
      node('Builtins_CEntry_Return1_ArgvOnStack_BuiltinExit'),
      js('createUnsafeBuffer', 'node:internal/buffer'), js('allocUnsafeSlow', 'node:buffer'),
      js('rememberRequestBody', '/srv/app/leak.js'), js('(anonymous)', '/srv/app/leak.js'), js('listOnTimeout', 'node:internal/timers'),
      node('Builtins_JSEntry'),
    ];
    for (let i = 0; i < 6; i++) assert.ok(plumbing(stack[i]!.functionName), stack[i]!.functionName);
    assert.equal(stack[siteFrameIndex(stack, defaultPlumbingPatterns)]!.functionName, 'rememberRequestBody');
    // A native addon (an object of its own) is the program's code.
    const addon = [node('node::NodeArrayBufferAllocator::Allocate(unsigned long)'), frame('SessionCache::remember(char const*)', { mappingFile: '/srv/app/build/Release/cache.node' }), node('Builtins_CEntry'), js('handle', '/srv/app/server.js')];
    assert.equal(addon[siteFrameIndex(addon, defaultPlumbingPatterns)]!.functionName, 'SessionCache::remember(char const*)');
    // No program frame at all (a stack that ended in the builtins): the runtime's first frame past the allocator.
    const cut = stack.slice(0, 6);
    assert.equal(siteFrameIndex(cut, defaultPlumbingPatterns), 0, 'all plumbing: the innermost');
  });

  test('CPython: pymalloc and the object allocators are plumbing, the interpreter is library, a Python function (-X perf) the site', () => {
    for (const name of ['_PyObject_Malloc', 'PyObject_Malloc', 'PyMem_RawMalloc', '_PyMem_RawRealloc', 'pymalloc_alloc', '_PyObject_GC_New', 'PyType_GenericAlloc']) {
      assert.ok(plumbing(name), name);
    }
    const stack = [python('_PyObject_Malloc'), python('_PyBytes_FromSize'), python('bytes_new_impl'), python('_PyEval_EvalFrameDefault'),
      frame('remember_request', { fileName: '/srv/app/leak.py' }), python('_PyEval_EvalFrameDefault'), frame('main', { fileName: '/srv/app/leak.py' })];
    assert.equal(stack[siteFrameIndex(stack, defaultPlumbingPatterns)]!.functionName, 'remember_request');
    const stdlib = [python('_PyObject_Malloc'), frame('encode', { fileName: '/usr/lib/python3.12/json/encoder.py' }), frame('dump', { fileName: '/srv/app/x.py' })];
    assert.equal(stdlib[siteFrameIndex(stdlib, defaultPlumbingPatterns)]!.functionName, 'dump', 'the standard library is library');
    // Python 3.11 (no perf map): the interpreter's first frame past the allocator — not the C library's start of
    // the program, the only frames outside the interpreter.
    const libc = (name: string) => frame(name, { mappingFile: '/usr/lib/x86_64-linux-gnu/libc.so.6' });
    const noPerf = [...stack.slice(0, 4), python('Py_BytesMain'), libc('__libc_start_call_main'), libc('__libc_start_main_impl'), python('_start')];
    assert.equal(noPerf[siteFrameIndex(noPerf, defaultPlumbingPatterns)]!.functionName, '_PyBytes_FromSize');
    const thread = [frame('malloc'), libc('start_thread'), libc('clone3')];
    assert.equal(thread[siteFrameIndex(thread, defaultPlumbingPatterns)]!.functionName, 'start_thread', 'nothing else: the first library frame');
  });
});
