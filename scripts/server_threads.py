#!/usr/bin/env python3
# -*- coding: utf-8 -*-

# The lesson's next step: scripts/server.py with one thread per client, as
# the lesson's "多线程" section says (t = threading.Thread(...); t.start()).
# Everything else is the lesson's server, unchanged.

import socket
import threading
import time

def worker(sock, addr):
    print('Accept new connection from %s:%s...' % addr)
    sock.send(b'Welcome!')
    while True:
        data = sock.recv(1024)
        time.sleep(1)
        if not data or data.decode('utf-8') == 'exit':
            break
        sock.send(('Received %s;' % data.decode('utf-8')).encode('utf-8'))
    sock.close()
    print('Connection from %s:%s closed.' % addr)

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# 监听端口:
s.bind(('127.0.0.1', 9999))
s.listen(5)
print('Waiting for connection...')
while True:
    # 接受一个新连接:
    sock, addr = s.accept()
    # 创建新线程来处理TCP连接:
    t = threading.Thread(target=worker, args=(sock, addr))
    t.start()
