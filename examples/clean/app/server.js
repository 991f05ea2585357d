console.log("hello from the clean example");
